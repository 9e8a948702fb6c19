"""A polars DataFrame and a lazy query plan built at start-up; the main block collects and
prints aggregations. Needs: polars."""
import polars as pl

SALES = pl.DataFrame({
    "region": ["north", "south", "north", "east", "south", "east", "north"],
    "product": ["tea", "tea", "coffee", "coffee", "cocoa", "tea", "cocoa"],
    "units": [10, 4, 7, 12, 3, 8, 5],
    "price": [2.5, 2.5, 4.0, 4.0, 3.25, 2.5, 3.25],
}).with_columns((pl.col("units") * pl.col("price")).alias("revenue"))

BY_REGION = (SALES.lazy().group_by("region")
             .agg(pl.col("revenue").sum().round(2).alias("revenue"), pl.col("units").sum(),
                  pl.col("product").n_unique().alias("products"))
             .sort("revenue", descending=True))

if __name__ == "__main__":
    pl.Config.set_tbl_formatting("ASCII_MARKDOWN")
    print(BY_REGION.collect())
    print(SALES.filter(pl.col("units") > 5).select("region", "product", "units").sort("units"))
    pivot = SALES.pivot(on="product", index="region", values="units", aggregate_function="sum").sort("region")
    print(pivot.fill_null(0).select("region", "cocoa", "coffee", "tea"))
    print(SALES["revenue"].sum(), SALES.shape, SALES.schema["units"])
