"""The feeds a new installation starts with: public, international, one or two per section."""

from __future__ import annotations

from brief.feeds.opml import OPMLFeed

DEFAULT_FEEDS: tuple[OPMLFeed, ...] = (
    OPMLFeed("https://feeds.bbci.co.uk/news/world/rss.xml", "BBC News - World", "world"),
    OPMLFeed("https://www.theguardian.com/world/rss", "The Guardian - World news", "world"),
    OPMLFeed("https://www.france24.com/en/rss", "France 24", "world"),
    OPMLFeed("https://rss.dw.com/rdf/rss-en-all", "DW", "europe"),
    OPMLFeed("https://feeds.bbci.co.uk/news/world/europe/rss.xml", "BBC News - Europe", "europe"),
    OPMLFeed("https://feeds.npr.org/1001/rss.xml", "NPR News", "americas"),
    OPMLFeed(
        "https://feeds.bbci.co.uk/news/world/latin_america/rss.xml",
        "BBC News - Latin America",
        "americas",
    ),
    OPMLFeed("https://feeds.bbci.co.uk/news/world/asia/rss.xml", "BBC News - Asia", "asia"),
    OPMLFeed("https://feeds.bbci.co.uk/news/world/africa/rss.xml", "BBC News - Africa", "africa"),
    OPMLFeed("https://www.aljazeera.com/xml/rss/all.xml", "Al Jazeera", "middle-east"),
    OPMLFeed("https://feeds.bbci.co.uk/news/business/rss.xml", "BBC News - Business", "business"),
    OPMLFeed(
        "https://feeds.bbci.co.uk/news/technology/rss.xml", "BBC News - Technology", "technology"
    ),
    OPMLFeed(
        "https://feeds.bbci.co.uk/news/science_and_environment/rss.xml",
        "BBC News - Science & Environment",
        "science",
    ),
    OPMLFeed("https://feeds.bbci.co.uk/news/health/rss.xml", "BBC News - Health", "health"),
    OPMLFeed("https://www.theguardian.com/culture/rss", "The Guardian - Culture", "culture"),
    OPMLFeed("https://feeds.bbci.co.uk/sport/rss.xml", "BBC Sport", "sport"),
)
