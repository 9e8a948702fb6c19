"""A FastAPI service: pydantic models, a dependency, a router, an exception handler.
The main block calls it through Starlette's TestClient. Needs: fastapi, httpx."""
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field


class Item(BaseModel):
    name: str = Field(min_length=1)
    price: float = Field(gt=0)
    tags: list[str] = []


class ItemOut(Item):
    id: int


class Store:
    def __init__(self):
        self.items: dict[int, ItemOut] = {}

    def add(self, item: Item) -> ItemOut:
        out = ItemOut(id=len(self.items) + 1, **item.model_dump())
        self.items[out.id] = out
        return out


STORE = Store()
for name, price in [("apple", 0.5), ("pear", 0.75), ("plum", 1.25)]:
    STORE.add(Item(name=name, price=price, tags=["fruit"]))


class OutOfStock(Exception):
    def __init__(self, name):
        self.name = name


def get_store() -> Store:
    return STORE


router = APIRouter(prefix="/items", tags=["items"])


@router.get("/", response_model=list[ItemOut])
def list_items(store: Annotated[Store, Depends(get_store)], max_price: Annotated[float, Query(gt=0)] = 100):
    return [i for i in store.items.values() if i.price <= max_price]


@router.get("/{item_id}", response_model=ItemOut)
def read_item(item_id: int, store: Annotated[Store, Depends(get_store)]):
    if item_id not in store.items:
        raise HTTPException(status_code=404, detail="Item not found")
    if store.items[item_id].name == "plum":
        raise OutOfStock("plum")
    return store.items[item_id]


@router.post("/", response_model=ItemOut, status_code=201)
def create_item(item: Item, store: Annotated[Store, Depends(get_store)]):
    return store.add(item)


app = FastAPI(title="Shop", version="1.0")
app.include_router(router)


@app.exception_handler(OutOfStock)
async def out_of_stock_handler(request: Request, exc: OutOfStock):
    return JSONResponse(status_code=409, content={"message": f"{exc.name} is out of stock"})


if __name__ == "__main__":
    client = TestClient(app)
    for url in ["/items/", "/items/?max_price=0.6", "/items/2", "/items/3", "/items/42", "/items/?max_price=-1"]:
        r = client.get(url)
        print(r.status_code, r.json())
    r = client.post("/items/", json={"name": "kiwi", "price": 0.3})
    print(r.status_code, r.json())
    r = client.post("/items/", json={"name": "", "price": 0})
    print(r.status_code, [e["loc"] for e in r.json()["detail"]])
    schema = client.get("/openapi.json").json()
    print(schema["info"], sorted(schema["paths"]))
