"""App 10, a cloud-SDK command-line tool: at start-up, botocore loads the service models of 12
services and creates their clients (credentials and region from the code, no network), as an
AWS CLI-style tool does; then it answers ``describe ec2 DescribeInstances``: the operation's
input members, from the loaded model."""

import sys

import botocore.session

SERVICES = ["ec2", "s3", "iam", "dynamodb", "lambda", "sqs", "sns", "sts", "cloudformation", "rds", "ecs",
            "kms"]
SESSION = botocore.session.get_session()
SESSION.set_credentials("AKIDEXAMPLE", "example-not-a-secret")
CLIENTS = {name: SESSION.create_client(name, region_name="eu-west-1") for name in SERVICES}
MODELS = {name: SESSION.get_service_model(name) for name in SERVICES}


def main(argv: list) -> None:
    service, operation = (argv + ["ec2", "DescribeInstances"])[:2]
    op = MODELS[service].operation_model(operation)
    members = sorted(op.input_shape.members) if op.input_shape is not None else []
    print(service, operation, len(MODELS[service].operation_names), members[:6], flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
