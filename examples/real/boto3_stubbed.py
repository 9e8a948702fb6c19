"""boto3 clients made at start-up (fixed fake credentials and region, no network); the main
block uses botocore's Stubber the way unit tests of AWS code do. Needs: boto3."""
import boto3
from botocore.exceptions import ClientError, ParamValidationError
from botocore.stub import ANY, Stubber

session = boto3.session.Session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="example-only",
                                region_name="eu-west-1")
s3 = session.client("s3")
ddb = session.client("dynamodb")


def bucket_names(client):
    return sorted(b["Name"] for b in client.list_buckets()["Buckets"])


def get_user(client, user_id):
    item = client.get_item(TableName="users", Key={"id": {"S": user_id}}).get("Item")
    return None if item is None else {k: next(iter(v.values())) for k, v in sorted(item.items())}


if __name__ == "__main__":
    print(s3.meta.region_name, s3.meta.service_model.service_name, ddb.meta.endpoint_url)
    with Stubber(s3) as stub:
        stub.add_response("list_buckets", {"Buckets": [{"Name": "logs"}, {"Name": "assets"}]})
        stub.add_client_error("head_bucket", service_error_code="404", http_status_code=404,
                              expected_params={"Bucket": "missing"})
        print(bucket_names(s3))
        try:
            s3.head_bucket(Bucket="missing")
        except ClientError as e:
            print("ClientError", e.response["Error"]["Code"], e.operation_name)
        stub.assert_no_pending_responses()
    with Stubber(ddb) as stub:
        stub.add_response("get_item", {"Item": {"id": {"S": "u1"}, "age": {"N": "36"}}},
                          {"TableName": "users", "Key": ANY})
        stub.add_response("get_item", {}, {"TableName": "users", "Key": {"id": {"S": "nobody"}}})
        print(get_user(ddb, "u1"), get_user(ddb, "nobody"))
    try:
        s3.put_object(Bucket="b")
    except ParamValidationError as e:
        print("ParamValidationError:", str(e).splitlines()[-1])
