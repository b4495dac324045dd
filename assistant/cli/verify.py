"""``assistant verify EXPORT [--corpus DIR]``: print the verdict on each quote of an exported answer.

Exit codes: 0 every quote verified; 1 some quote did not (file changed, not found, or a
PDF quote its page does not draw);
2 the export cannot be read (missing, not JSON, not an answer export, a field missing).
"""

from __future__ import annotations

import argparse
import json
import sys

from assistant.errors import ExportError
from assistant.pipeline.verify import VERIFIED, read_export, verification_json, verify_export


def cmd_verify(args: argparse.Namespace) -> int:
    try:
        record = read_export(args.export)
    except ExportError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    v = verify_export(record, corpus=tuple(args.corpus or ()))
    if args.json:
        print(json.dumps(verification_json(v), ensure_ascii=False, indent=1))
        return 0 if v.ok else 1
    print(f"Question: {v.question}")
    print(f"  {v.about}")
    if v.refused:
        print(f"  The answer was refused ({v.reason}); its passages are possibly related, not evidence.")
    for note in v.notes:
        print(f"Note: {note}")
    for c in v.checks:
        print(f"[{c.number}] {c.status}: {c.detail}")
    good = sum(c.status == VERIFIED for c in v.checks)
    if not v.checks:
        print("No quotes to verify.")
    else:
        print(f"{good} of {len(v.checks)} quotes verified." if v.ok else
              f"NOT VERIFIED: {len(v.checks) - good} of {len(v.checks)} quotes did not verify.")
    return 0 if v.ok else 1
