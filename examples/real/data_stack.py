"""numpy, pandas and pydantic at start-up: an array, a DataFrame, validated models, a pandas option.
Needs: numpy, pandas, pydantic."""
import numpy as np
import pandas as pd
import pydantic
from typing import Optional

class Item(pydantic.BaseModel):
    name: str
    price: float
    tags: list[str] = []
    parent: Optional["Item"] = None

ARR = np.arange(1_000_000, dtype=np.float64).reshape(1000, 1000)
DF = pd.DataFrame({"a": np.arange(10), "b": list("abcdefghij")}).set_index("b")
ITEMS = [Item(name=f"i{i}", price=i * 1.5, tags=["x"]) for i in range(100)]
pd.set_option("display.max_rows", 5)
if __name__ == "__main__":
    print(ARR.sum(), ARR[3, 4], ARR.flags["C_CONTIGUOUS"])
    print(DF.loc["c", "a"], DF["a"].mean())
    print(DF)
    print(ITEMS[3], Item.model_validate({"name": "z", "price": "2.5"}).price)
    try:
        Item(name="q", price="nope")
    except pydantic.ValidationError as e:
        print("invalid:", e.error_count())
    print(pd.get_option("display.max_rows"))
