"""Expands a SAM template into the CloudFormation that `sam deploy` submits, with the SAM translator
that cfn-lint bundles (the same one cfn-lint lints with). Prints the result as JSON on stdout.

Usage: python sam-transform.py <template.yaml> [region]
Local CodeUri/ContentUri/Location values become placeholder S3 URIs, as cfn-lint does.
"""
import json
import sys

from cfnlint.decode import decode
from cfnlint.template.transforms._sam import Transform


def main() -> int:
    path = sys.argv[1]
    region = sys.argv[2] if len(sys.argv) > 2 else "us-east-1"
    template, matches = decode(path)
    if matches or template is None:
        for match in matches or []:
            print(str(match), file=sys.stderr)
        return 2
    transform = Transform(path, template, region)
    errors = transform.transform_template()
    if errors:
        for match in errors:
            print(str(match), file=sys.stderr)
        return 3
    json.dump(transform.template(), sys.stdout, indent=1, sort_keys=True, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
