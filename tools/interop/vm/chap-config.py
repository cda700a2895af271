#!/usr/bin/env python3
"""chap-config.py OUT - the livesnap daemon config for the VM suite (apps/iscsi-target/src/
config/schema.ts), on loopback:
  iqn.2026-11.dev.livesnap:vm    no authentication, serves every volume not mapped elsewhere
  iqn.2026-11.dev.livesnap:chap  LUN 0 = volume "chapvol", CHAP + mutual CHAP
  iqn.2026-11.dev.livesnap:chap1 LUN 0 = volume "chapvol1", one-way CHAP
Prints the CHAP settings as shell assignments for run-livesnap.sh."""
import json
import sys

CHAP = {"username": "vm-initiator", "secret": "livesnap-vm-secret-1"}
MUTUAL = {"username": "livesnap-target", "secret": "livesnap-target-secret-2"}
config = {
    "portals": [{"host": "127.0.0.1", "port": 0}],
    "api": {"host": "127.0.0.1", "port": 0},
    "targets": [
        {"iqn": "iqn.2026-11.dev.livesnap:vm", "alias": "vm", "autoVolumes": True},
        {"iqn": "iqn.2026-11.dev.livesnap:chap", "alias": "chap", "luns": [{"lun": 0, "volume": "chapvol"}],
         "chap": CHAP, "mutualChap": MUTUAL},
        {"iqn": "iqn.2026-11.dev.livesnap:chap1", "alias": "chap1", "luns": [{"lun": 0, "volume": "chapvol1"}],
         "chap": CHAP},
    ],
}
with open(sys.argv[1], "w") as f:
    json.dump(config, f, indent=2)
print("CHAP_TARGET=iqn.2026-11.dev.livesnap:chap CHAP_LUN=0 CHAP1_TARGET=iqn.2026-11.dev.livesnap:chap1 CHAP1_LUN=0 CHAP_USER=%s CHAP_PASS=%s CHAP_IN_USER=%s CHAP_IN_PASS=%s"
      % (CHAP["username"], CHAP["secret"], MUTUAL["username"], MUTUAL["secret"]))
