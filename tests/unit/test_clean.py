from __future__ import annotations

import pytest

from brief.feeds.clean import fold_whitespace, html_to_text, sanitize_html

BASE = "https://news.example.com/2024/05/story"
REL = 'rel="noopener noreferrer nofollow"'


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<p>Hello <b>world</b></p>", "<p>Hello <b>world</b></p>"),
        ('<a href="https://x.example/a">x</a>', f'<a href="https://x.example/a" {REL}>x</a>'),
        (
            '<a href="/a" rel="me" target="_blank">x</a>',
            f'<a href="https://news.example.com/a" {REL}>x</a>',
        ),
        ('<a href="more">x</a>', f'<a href="https://news.example.com/2024/05/more" {REL}>x</a>'),
        ('<a href="javascript:alert(1)">x</a>', f"<a {REL}>x</a>"),
        ('<a href=" JaVaScRiPt:alert(1)">x</a>', f"<a {REL}>x</a>"),
        ('<a href="data:text/html;base64,PHNjcmlwdD4=">x</a>', f"<a {REL}>x</a>"),
        ('<a href="">x</a>', f"<a {REL}>x</a>"),
        (
            '<a href="mailto:desk@example.com">x</a>',
            f'<a href="mailto:desk@example.com" {REL}>x</a>',
        ),
        ("<p>a</p><script>alert(1)</script><p>b</p>", "<p>a</p><p>b</p>"),
        ("<style>p{color:red}</style>text", "text"),
        ('<iframe src="https://evil.example/"></iframe>text', "text"),
        ('<p onclick="steal()" style="color:red" class="x" id="y">t</p>', "<p>t</p>"),
        (
            '<img src="//cdn.example.com/a.jpg" onerror="x()" alt="A">',
            '<img src="https://cdn.example.com/a.jpg" alt="A">',
        ),
        ("<div><span>kept text</span></div><form><input name=q></form>", "kept text"),
        ("<!-- a comment -->text", "text"),
        ("<object data='x.swf'></object><embed src='x.swf'>ok", "ok"),
        ("  plain text  ", "plain text"),
    ],
)
def test_sanitize_html(html: str, expected: str) -> None:
    assert sanitize_html(html, BASE) == expected


def test_sanitize_without_base_keeps_relative_urls() -> None:
    assert sanitize_html('<a href="/a">x</a>') == f'<a href="/a" {REL}>x</a>'


def test_sanitize_drops_nul_characters() -> None:
    assert sanitize_html("a\x00b") == "ab"


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>Hello&nbsp;<b>world</b></p><p>Second &amp; third</p>", "Hello world Second & third"),
        ("Fish &amp; chips &#8211; &quot;cheap&quot;", 'Fish & chips – "cheap"'),
        ("line one<br>line two<br/>three", "line one line two three"),
        ("<ul><li>one</li><li>two</li></ul>", "one two"),
        ("<p>a</p><script>var x = '<p>';</script><style>p{}</style><p>b</p>", "a b"),
        ("no   markup\n\tat all", "no markup at all"),
        ("<b>bold</b><i>italic</i>", "bolditalic"),  # inline tags do not add spaces
        ("5 < 6 and 7 > 3", "5 < 6 and 7 > 3"),
        ("", ""),
    ],
)
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text


@pytest.mark.parametrize(
    ("html", "text"),
    [
        # The Guardian's standfirst, then the body: two blocks, never one sentence.
        (
            "<p>In statement attributable to FBI director – appointed by Trump – agency raises "
            "concerns about ‘material omissions of fact’ in document</p><p>The FBI said on "
            "Wednesday it had “grave concerns”.</p> <a href='x'>Continue reading...</a>",
            "In statement attributable to FBI director – appointed by Trump – agency raises "
            "concerns about ‘material omissions of fact’ in document\nThe FBI said on Wednesday "
            "it had “grave concerns”.\nContinue reading...",
        ),
        ("line one<br>line two<br/>three", "line one\nline two\nthree"),
        ("<ul><li>one</li><li>two</li></ul>", "one\ntwo"),
        ("<p>a source\nline break</p>", "a source line break"),  # HTML's newlines are spaces
        ("<p> </p><p>a</p><p></p>", "a"),
        ("Plain text\nwrapped.\n\nSecond paragraph.", "Plain text wrapped.\nSecond paragraph."),
        # Macworld's story with a tweet embedded: the tweet is not the article's text.
        (
            '<p>Here’s Ergin’s tweet:</p><blockquote class="twitter-tweet" data-lang="en">'
            '<p lang="en">Dear @AppleSupport, we noticed a <em>HUGE</em> security issue.'
            "</p><blockquote>quoted</blockquote>— Lemi Orhan Ergin (@lemiorhan) "
            '<a href="https://twitter.com/x">November 28, 2017</a></blockquote>'
            "<p>Apple has since issued a fix.</p><blockquote><p>A quote stays.</p></blockquote>",
            "Here’s Ergin’s tweet:\nApple has since issued a fix.\nA quote stays.",
        ),
        (
            '<blockquote class="instagram-media" data-instgrm-version="14"><p>a post</p>'
            "</blockquote><p>Body.</p>",
            "Body.",
        ),
        ("", ""),
    ],
)
def test_html_to_text_keeps_blocks_apart(html: str, text: str) -> None:
    assert html_to_text(html, blocks=True) == text


@pytest.mark.parametrize(
    ("raw", "folded"),
    [(" a \n\n b\t", "a b"), ("x\x00y\x07z", "xyz"), ("\u00a0nbsp\u00a0", "nbsp")],
)
def test_fold_whitespace(raw: str, folded: str) -> None:
    assert fold_whitespace(raw) == folded
