"""A pandas start-up that loads CSV data, parses dates and categories and pre-computes a pivot
table; the main block slices and prints reports. Needs: pandas, numpy."""
import io

import numpy as np
import pandas as pd

CSV = """date,store,category,amount,items
2024-01-03,Berlin,food,120.50,7
2024-01-03,Paris,books,35.00,2
2024-01-10,Berlin,books,18.25,1
2024-01-17,Paris,food,99.99,5
2024-02-02,Berlin,toys,45.00,3
2024-02-09,Madrid,food,210.10,11
2024-02-16,Paris,toys,15.75,1
2024-02-23,Madrid,books,60.00,4
2024-03-01,Berlin,food,80.00,6
"""

df = pd.read_csv(io.StringIO(CSV), parse_dates=["date"])
df["category"] = df["category"].astype(pd.CategoricalDtype(["food", "books", "toys"], ordered=True))
df["month"] = df["date"].dt.to_period("M")
pivot = df.pivot_table(index="store", columns="category", values="amount", aggfunc="sum",
                       fill_value=0, observed=False)
pd.options.display.width = 100
pd.options.display.float_format = "{:,.2f}".format

if __name__ == "__main__":
    print(pivot)
    monthly = df.groupby("month").agg(total=("amount", "sum"), items=("items", "sum"), orders=("store", "size"))
    print(monthly)
    print(df.sort_values(["category", "amount"], ascending=[True, False]).head(4).to_string(index=False))
    per_item = (df["amount"] / df["items"]).round(2)
    print(per_item.describe().round(2).to_dict())
    weekly = df.set_index("date")["amount"].resample("MS").sum()
    print(weekly.to_dict())
    print(np.percentile(df["amount"], [25, 50, 75]).round(2), df["store"].value_counts().sort_index().to_dict())
