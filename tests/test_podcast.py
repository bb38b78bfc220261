"""A programme as a podcast: RSS 2.0 + iTunes, only what can be listened to on demand."""

from __future__ import annotations

from urllib.parse import urlsplit

from lxml import etree

from api.routes.podcast import Feed, FeedItem, duration, render
from tests.schedule_support import Desk, build_radio_week

ITUNES = "{http://www.itunes.com/dtds/podcast-1.0.dtd}"


def test_the_feed_is_rss_with_the_itunes_tags_a_podcast_app_needs() -> None:
    item = FeedItem(
        "diaspor:x:episode:1",
        "Berlin icması",
        "",
        "http://h/files/a.mp3",
        "audio/mpeg",
        1234,
        90_500,
        None,
        None,
        1,
        3,
    )
    feed = Feed(
        "Vətən uzaqda deyil", "", "http://h/p", "az", "http://h/a.jpg", ("News",), "Aysel", (item,)
    )
    root = etree.fromstring(render(feed))
    assert root.tag == "rss" and root.get("version") == "2.0"
    ch = root.find("channel")
    assert ch is not None and ch.findtext("title") == "Vətən uzaqda deyil"
    assert ch.find(f"{ITUNES}image").get("href") == "http://h/a.jpg"
    it = ch.find("item")
    assert it.find("enclosure").attrib == {
        "url": "http://h/files/a.mp3",
        "type": "audio/mpeg",
        "length": "1234",
    }
    assert it.findtext(f"{ITUNES}duration") == "00:01:30" == duration(90_500)
    assert it.find("pubDate") is None  # unknown, so left out rather than invented


def test_a_radio_show_is_in_its_podcast_once_it_has_aired(desk: Desk) -> None:
    week = build_radio_week(desk)  # the episode airs on Sunday 29 November; now is Thursday
    path = "/api/v1/programmes/veten-uzaqda-deyil/podcast.xml"
    before = desk.client.get(path)
    assert before.status_code == 200
    assert before.headers["content-type"].startswith("application/rss+xml")
    assert etree.fromstring(before.content).find("channel/item") is None

    desk.clock.advance(3 * 86_400)
    r = desk.client.get(path, params={"lang": "en"})
    root = etree.fromstring(r.content)
    ch = root.find("channel")
    assert ch.findtext("title") == "Homeland Is Not Far" and ch.findtext("language") == "en"
    items = ch.findall("item")
    assert len(items) == 1
    it = items[0]
    assert it.findtext("title") == "Berlin"
    assert it.findtext("guid") == f"diaspor:veten-uzaqda-deyil:episode:{week['episode']['id']}"
    enc = it.find("enclosure")
    assert enc.get("type") == "audio/mpeg" and int(enc.get("length")) > 0
    assert it.findtext("pubDate", "").endswith("+0000") or it.findtext("pubDate", "").endswith(
        "GMT"
    )
    assert it.findtext(f"{ITUNES}duration") in {"00:01:30", "00:01:29", "00:01:31"}
    audio = desk.client.get(urlsplit(enc.get("url")).path)  # the stored original, via /files/
    assert audio.status_code == 200 and len(audio.content) == int(enc.get("length"))
    assert desk.client.get("/api/v1/programmes/no-such/podcast.xml").status_code == 404
