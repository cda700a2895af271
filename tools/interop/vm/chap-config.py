#!/usr/bin/env python3
"""chap-config.py OUT USER SECRET - write a livesnap daemon config that requires CHAP
(USER/SECRET) on loopback. Exits 1 with a reason if the daemon's config format is not known."""
import sys

sys.exit("the daemon's config schema (CHAP secrets) has not landed yet")
