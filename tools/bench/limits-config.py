#!/usr/bin/env python3
"""limits-config.py PROFILE OUT - a livesnap daemon config whose iSCSI limits match PROFILE
(tgt: tgt 1.0.85's defaults). Exits 1 with a reason if the config format is not known."""
import sys

sys.exit("limits-config.py: the daemon's config schema (iSCSI limits) has not landed yet")
