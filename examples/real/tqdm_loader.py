"""A data-loading start-up that reports progress with tqdm (to stderr, as usual), then a main
block whose own progress bar writes a fixed format to stdout. Needs: tqdm."""
import sys
import zlib

from tqdm import tqdm

RECORDS = []
for i in tqdm(range(2000), desc="loading", unit="rec"):
    RECORDS.append(zlib.crc32(f"record-{i}".encode()))
INDEX = {crc: i for i, crc in enumerate(RECORDS)}

if __name__ == "__main__":
    bar = tqdm(total=5, file=sys.stdout, ascii=True, ncols=60, mininterval=0, miniters=1,
               bar_format="{desc} {n_fmt}/{total_fmt} |{bar}|")
    for step in ["parse", "check", "index", "write", "done"]:
        bar.set_description_str(f"{step:<6}")
        bar.update(1)
    bar.close()
    print()
    print(len(RECORDS), INDEX[zlib.crc32(b"record-1234")], tqdm.format_sizeof(123456789, "B", 1024))
    print(tqdm.format_meter(50, 200, 12.5, ncols=50, ascii=True, bar_format="{l_bar}{bar}|{n}/{total}"))
