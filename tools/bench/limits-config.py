#!/usr/bin/env python3
"""limits-config.py PROFILE OUT - write a livesnap daemon config (apps/iscsi-target/src/config/
schema.ts) with one auto-volume target on loopback and the iSCSI limits of PROFILE:
  tgt  - tgt 1.0.85's defaults: MaxRecvDataSegmentLength 8192, FirstBurstLength 65536,
         MaxBurstLength 262144, MaxOutstandingR2T 1 (InitialR2T/ImmediateData are not
         configurable in livesnap: it offers InitialR2T=No, ImmediateData=Yes)
  livesnap - the schema's defaults (nothing overridden)"""
import json
import sys

PROFILES = {
    "tgt": {"maxRecvDataSegmentLength": 8192, "firstBurstLength": 65536, "maxBurstLength": 262144,
            "maxOutstandingR2T": 1},
    "livesnap": {},
}

profile, out = sys.argv[1], sys.argv[2]
if profile not in PROFILES:
    sys.exit("limits-config.py: unknown profile %s (%s)" % (profile, ", ".join(PROFILES)))
config = {
    "portals": [{"host": "127.0.0.1", "port": 0}],
    "api": {"host": "127.0.0.1", "port": 0},
    "targets": [{"iqn": "iqn.2026-11.dev.livesnap:bench", "alias": "bench", "autoVolumes": True}],
    "iscsi": PROFILES[profile],
}
with open(out, "w") as f:
    json.dump(config, f, indent=2)
