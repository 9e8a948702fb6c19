"""An HTML page parsed with Beautiful Soup (the standard-library parser) at start-up; the main
block selects, walks and edits the tree. Needs: bs4 (beautifulsoup4)."""
from bs4 import BeautifulSoup

HTML = """<html><head><title>Shop &amp; more</title></head><body>
<nav><a href="/">Home</a> <a href="/deals" class="hot">Deals</a></nav>
<table id="prices">
  <tr><th>item</th><th>price</th></tr>
  <tr class="row"><td>Lamp</td><td data-cur="EUR">19.90</td></tr>
  <tr class="row sale"><td>Chair</td><td data-cur="EUR">45.00</td></tr>
  <tr class="row"><td>Desk</td><td data-cur="USD">120.00</td></tr>
</table>
<p>Contact: <a href="mailto:shop@example.org">shop@example.org</a></p>
</body></html>"""

soup = BeautifulSoup(HTML, "html.parser")
ROWS = soup.select("table#prices tr.row")

if __name__ == "__main__":
    print(soup.title.string, [a["href"] for a in soup.find_all("a")])
    for row in ROWS:
        name, price = row.find_all("td")
        print(name.get_text(), float(price.string), price["data-cur"], "sale" in row["class"])
    print(soup.select_one("a.hot").text, soup.find("a", href=lambda h: h.startswith("mailto:")).string)
    new = soup.new_tag("tr", attrs={"class": "row"})
    new.append(soup.new_tag("td"))
    new.td.string = "Shelf"
    soup.find("table").append(new)
    print(len(soup.select("tr.row")), soup.find("table").find_all("tr")[-1])
    print(soup.nav.get_text(" | ", strip=True))
