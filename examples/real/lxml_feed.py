"""An RSS feed parsed with lxml at start-up, with compiled XPath expressions and an XSLT
stylesheet; the main block queries and transforms it. Needs: lxml."""
from lxml import etree

FEED = etree.fromstring(b"""<?xml version="1.0"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel><title>Release notes</title>
    <item><title>1.0 released</title><dc:creator>ana</dc:creator><category>release</category></item>
    <item><title>Fixing the cache</title><dc:creator>bo</dc:creator><category>bugfix</category></item>
    <item><title>1.1 released</title><dc:creator>ana</dc:creator><category>release</category></item>
  </channel>
</rss>""")
NS = {"dc": "http://purl.org/dc/elements/1.1/"}
TITLES_BY = etree.XPath("//item[dc:creator=$who]/title/text()", namespaces=NS)
COUNT = etree.XPath("count(//item[category=$cat])")
TO_HTML = etree.XSLT(etree.XML(b"""<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
  <xsl:output method="html" indent="no"/>
  <xsl:template match="/rss/channel">
    <ul title="{title}"><xsl:for-each select="item"><li><xsl:value-of select="title"/></li></xsl:for-each></ul>
  </xsl:template>
</xsl:stylesheet>"""))

if __name__ == "__main__":
    print(FEED.findtext("channel/title"), len(FEED.findall(".//item")))
    print(TITLES_BY(FEED, who="ana"), COUNT(FEED, cat="release"))
    print(str(TO_HTML(FEED)).strip())
    item = etree.SubElement(FEED.find("channel"), "item")
    etree.SubElement(item, "title").text = "2.0 <beta>"
    print(etree.tostring(item).decode(), COUNT(FEED, cat="release"), len(FEED.xpath("//item")))
