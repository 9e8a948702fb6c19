"""botocore's service models loaded once at start-up (S3, DynamoDB, SQS): operations, input
shapes, paginators and waiters read offline, no credentials. Needs: botocore."""
import botocore.session

session = botocore.session.get_session()
MODELS = {name: session.get_service_model(name) for name in ("s3", "dynamodb", "sqs")}
LOADER = session.get_component("data_loader")
PAGINATORS = LOADER.load_service_model("s3", "paginators-1")["pagination"]


def describe_shape(shape, depth=0, limit=2):
    line = "  " * depth + f"{shape.name}: {shape.type_name}"
    if shape.type_name == "structure" and depth < limit:
        required = set(shape.required_members)
        for name in sorted(shape.members)[:4]:
            mark = "*" if name in required else ""
            yield "  " * (depth + 1) + f"{name}{mark}"
    yield line


if __name__ == "__main__":
    for name, model in MODELS.items():
        print(name, model.metadata["protocol"], model.api_version, model.signing_name,
              len(model.operation_names) > 10)
    put = MODELS["s3"].operation_model("PutObject")
    print(put.http["method"], put.http["requestUri"], sorted(put.input_shape.required_members))
    for line in describe_shape(MODELS["dynamodb"].operation_model("GetItem").input_shape):
        print(line)
    print(sorted(PAGINATORS["ListObjectsV2"].items()))
    waiter = LOADER.load_service_model("dynamodb", "waiters-2")["waiters"]["TableExists"]
    print(waiter["operation"], waiter["delay"], waiter["maxAttempts"])
    print(MODELS["sqs"].shape_for("QueueAttributeName").enum[:3])
