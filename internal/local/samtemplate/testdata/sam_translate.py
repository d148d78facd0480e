"""Translate SAM templates to CloudFormation with the real SAM translator.

The Go tests of internal/local/samtemplate run this with python3 to see the
CloudFormation that `sam deploy` would hand to CloudFormation: the same
translator (the aws-sam-translator package, module samtranslator) that the
AWS::Serverless transform, `sam validate` and cfn-lint run.

stdin:  {"jobs": [{"template": "<YAML or JSON text>", "parameters": {...}}, ...]}
stdout: {"results": [{"cloudformation": {...}} or {"errors": ["...", ...]}, ...]}
        one result per job, in order.

As `sam validate` does, a function's local CodeUri (such as ".") is replaced
by an S3 location before translating (`sam package` would upload it there),
and the region is fixed (us-east-1), so that nothing is read from AWS.
"""

import json
import sys

import boto3
from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.yaml_helper import yaml_parse

REGION = "us-east-1"


def packaged(uri):
    """The S3 location `sam package` would give a local CodeUri."""
    if not isinstance(uri, str) or uri.startswith("s3://"):
        return uri
    return "s3://chunkup-packaged/" + uri


def package_code(template):
    function_globals = template.get("Globals", {}).get("Function", {})
    if "CodeUri" in function_globals:
        function_globals["CodeUri"] = packaged(function_globals["CodeUri"])
    for resource in template.get("Resources", {}).values():
        props = resource.get("Properties", {})
        if resource.get("Type") == "AWS::Serverless::Function" and "CodeUri" in props:
            props["CodeUri"] = packaged(props["CodeUri"])


def translate(job):
    template = yaml_parse(job["template"])
    package_code(template)
    session = boto3.session.Session(region_name=REGION)
    translator = Translator(None, Parser(), boto_session=session)
    try:
        cfn = translator.translate(
            template,
            parameter_values=dict(job.get("parameters", {})),
            get_managed_policy_map=lambda: {},
        )
    except InvalidDocumentException as e:
        return {"errors": [cause.message for cause in e.causes]}
    return {"cloudformation": cfn}


def main():
    jobs = json.load(sys.stdin)["jobs"]
    json.dump({"results": [translate(job) for job in jobs]}, sys.stdout)


if __name__ == "__main__":
    main()
