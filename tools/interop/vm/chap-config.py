#!/usr/bin/env python3
"""chap-config.py OUT - the livesnap daemon config for the VM suite (apps/iscsi-target/src/
config/schema.ts), on loopback:
  iqn.2026-11.dev.livesnap:vm    no authentication, serves every volume not mapped elsewhere
  iqn.2026-11.dev.livesnap:chap  LUN 0 = volume "chapvol", CHAP + mutual CHAP
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
    ],
}
with open(sys.argv[1], "w") as f:
    json.dump(config, f, indent=2)
print("CHAP_TARGET=iqn.2026-11.dev.livesnap:chap CHAP_LUN=0 CHAP_USER=%s CHAP_PASS=%s CHAP_IN_USER=%s CHAP_IN_PASS=%s"
      % (CHAP["username"], CHAP["secret"], MUTUAL["username"], MUTUAL["secret"]))
