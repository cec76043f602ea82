//! HTML mail bodies as the plain text a reader sees, in one pass.
//!
//! `html5gum` tokenizes (WHATWG rules: entities, comments, quoted
//! attributes, the raw text of `<script>`/`<style>`); this file only lays the
//! tokens out. Nothing here looks back over what was already read, so the
//! time is linear in the input whatever its shape, and the text is never
//! longer (in characters) than the HTML.

use std::convert::Infallible;

use html5gum::emitters::callback::{CallbackEmitter, CallbackEvent};
use html5gum::{Span, Tokenizer};

/// Elements whose content is never shown. The tokenizer reads the content
/// of most of them as raw text up to their own end tag.
const HIDDEN_RAW_TEXT: &[&[u8]] = &[
    b"script",
    b"style",
    b"title",
    b"iframe",
    b"noembed",
    b"noframes",
    b"noscript",
];

/// What `<head>` may hold; any other element, or text, ends it (as in a
/// browser), so a head left open does not hide the mail.
const HEAD_CONTENT: &[&[u8]] = &[
    b"base",
    b"link",
    b"meta",
    b"noscript",
    b"script",
    b"style",
    b"template",
    b"title",
];

/// Elements that start on a new line.
const BLOCK_ELEMENTS: &[&[u8]] = &[
    b"address",
    b"article",
    b"aside",
    b"blockquote",
    b"center",
    b"dd",
    b"div",
    b"dl",
    b"dt",
    b"fieldset",
    b"figcaption",
    b"figure",
    b"footer",
    b"form",
    b"h1",
    b"h2",
    b"h3",
    b"h4",
    b"h5",
    b"h6",
    b"header",
    b"hr",
    b"li",
    b"main",
    b"nav",
    b"ol",
    b"pre",
    b"section",
    b"table",
    b"tbody",
    b"tfoot",
    b"thead",
    b"tr",
    b"ul",
];

/// Classes of the element a mail client wraps the quoted history in.
const QUOTE_CLASSES: &[&[u8]] = &[
    b"gmail_quote",
    b"gmail_quote_container",
    b"yahoo_quoted",
    b"protonmail_quote",
];

/// Marks after which everything is quoted history: Outlook's reply header
/// (`id`) and Thunderbird's attribution line (`class`), each followed by
/// the quote rather than containing it.
const QUOTE_FOLLOWS_IDS: &[&[u8]] = &[b"divRplyFwdMsg", b"appendonsend"];
const QUOTE_FOLLOWS_CLASSES: &[&[u8]] = &[b"moz-cite-prefix"];

/// Text of an HTML body, and where in it the quoted history starts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HtmlText {
    pub text: String,
    /// Byte offset in `text` where a mail client's quote container or reply
    /// header begins, when nothing but quoted history follows it (a reply
    /// written between quotes has none).
    pub quote_at: Option<usize>,
}

/// Plain text of an HTML body, as a reader would see it: tags dropped (and
/// the content of `<script>`, `<style>`, `<head>`, ...), entities decoded,
/// whitespace collapsed, line breaks at `<br>` and around blocks, a blank
/// line around paragraphs, at most one blank line in a row.
pub fn html_to_text(html: &str) -> String {
    html_text(html).text
}

/// [`html_to_text`], also finding where the quoted history starts.
pub fn html_text(html: &str) -> HtmlText {
    let mut layout = Layout::default();
    {
        let mut emitter = CallbackEmitter::new(
            |event: CallbackEvent<'_>, _: Span<()>| -> Option<Infallible> {
                layout.event(event);
                None
            },
        );
        // Switches to raw text after <script>, <style>, <title>, ... as a
        // browser's tree builder would, so their content is not read as tags.
        emitter.naively_switch_states(true);
        for token in Tokenizer::new_with_emitter(html, emitter) {
            // Reading a &str cannot fail, and the callback yields nothing.
            let _ = token;
        }
    }
    layout.finish()
}

#[derive(Default)]
struct Layout {
    out: TextBuilder,
    /// The start tag being read (its name and the attributes that matter).
    tag: Vec<u8>,
    attribute: Vec<u8>,
    class: Vec<u8>,
    id: Vec<u8>,
    kind: Vec<u8>,
    /// Inside a raw-text element whose content is hidden.
    in_raw_hidden: bool,
    /// Inside `<head>` (until `</head>` or `<body>`).
    in_head: bool,
    /// Depth of nested `<template>` elements.
    templates: usize,
    quote: QuoteState,
}

#[derive(Default)]
enum QuoteState {
    #[default]
    None,
    /// Inside a quote container named `tag`, `depth` deep in same-name
    /// elements (enough to find its end without a tree).
    Inside {
        at: usize,
        tag: Vec<u8>,
        depth: usize,
    },
    /// The container ended at `at`; text after it means the reply goes on.
    Closed { at: usize },
    /// Everything from `at` on is quoted history.
    Rest { at: usize },
    /// Reply text came after a quote: no single place to cut.
    Interleaved,
}

impl Layout {
    fn hidden(&self) -> bool {
        self.in_raw_hidden || self.in_head || self.templates > 0
    }

    fn event(&mut self, event: CallbackEvent<'_>) {
        match event {
            CallbackEvent::OpenStartTag { name } => {
                self.tag.clear();
                self.tag.extend_from_slice(name);
                self.class.clear();
                self.id.clear();
                self.kind.clear();
            }
            CallbackEvent::AttributeName { name } => {
                self.attribute.clear();
                self.attribute.extend_from_slice(name);
            }
            CallbackEvent::AttributeValue { value } => {
                let target = match self.attribute.as_slice() {
                    b"class" => &mut self.class,
                    b"id" => &mut self.id,
                    b"type" => &mut self.kind,
                    _ => return,
                };
                // A repeated attribute is ignored, as browsers do.
                if target.is_empty() {
                    target.extend_from_slice(value);
                }
            }
            CallbackEvent::CloseStartTag { self_closing } => self.start_tag(self_closing),
            CallbackEvent::EndTag { name } => self.end_tag(name),
            CallbackEvent::String { value } => {
                if self.in_head
                    && !self.in_raw_hidden
                    && self.templates == 0
                    && !value.iter().all(u8::is_ascii_whitespace)
                {
                    self.in_head = false;
                }
                if !self.hidden() {
                    let text = String::from_utf8_lossy(value);
                    if self.out.text(&text) {
                        self.visible_text();
                    }
                }
            }
            CallbackEvent::Comment { .. }
            | CallbackEvent::Doctype { .. }
            | CallbackEvent::Error(_) => {}
        }
    }

    fn start_tag(&mut self, self_closing: bool) {
        let name = std::mem::take(&mut self.tag);
        if HIDDEN_RAW_TEXT.contains(&name.as_slice()) {
            // The tokenizer reads raw text up to the end tag even after `/>`.
            self.in_raw_hidden = true;
        }
        match name.as_slice() {
            b"head" if !self_closing => self.in_head = true,
            b"template" if !self_closing => self.templates += 1,
            other if !HEAD_CONTENT.contains(&other) => self.in_head = false,
            _ => {}
        }
        if !self.hidden() {
            self.quote_start(&name, self_closing);
            self.layout(&name, true);
        }
        self.tag = name;
    }

    fn end_tag(&mut self, name: &[u8]) {
        if self.in_raw_hidden {
            // In raw text the only end tag the tokenizer reports is the one
            // that closes it.
            self.in_raw_hidden = false;
            return;
        }
        match name {
            b"head" => self.in_head = false,
            b"template" => self.templates = self.templates.saturating_sub(1),
            _ => {}
        }
        if !self.hidden() {
            self.layout(name, false);
            self.quote_end(name);
        }
    }

    /// Line breaks for a tag (start or end): `</br>` breaks too, as in browsers.
    fn layout(&mut self, name: &[u8], start: bool) {
        match name {
            b"br" => self.out.line_break(),
            b"p" => self.out.block_break(2),
            b"td" | b"th" if start => self.out.space(),
            n if BLOCK_ELEMENTS.contains(&n) => self.out.block_break(1),
            _ => {}
        }
    }

    fn quote_start(&mut self, name: &[u8], self_closing: bool) {
        match &mut self.quote {
            QuoteState::None | QuoteState::Closed { .. } => {}
            QuoteState::Inside { tag, depth, .. } => {
                if tag.as_slice() == name && !self_closing {
                    *depth += 1;
                }
                return;
            }
            QuoteState::Rest { .. } | QuoteState::Interleaved => return,
        }
        let has_class = |classes: &[&[u8]]| {
            self.class
                .split(u8::is_ascii_whitespace)
                .any(|c| classes.contains(&c))
        };
        let at = self.out.len();
        if QUOTE_FOLLOWS_IDS.contains(&self.id.as_slice()) || has_class(QUOTE_FOLLOWS_CLASSES) {
            self.quote = match self.quote {
                QuoteState::Closed { at: first } => QuoteState::Rest { at: first },
                _ => QuoteState::Rest { at },
            };
            return;
        }
        let container = has_class(QUOTE_CLASSES)
            || (name == b"blockquote" && self.kind.eq_ignore_ascii_case(b"cite"));
        if container && !self_closing {
            self.quote = match self.quote {
                // A second quote after the first one closed, with no reply
                // text between them: the history goes on.
                QuoteState::Closed { at: first } => QuoteState::Inside {
                    at: first,
                    tag: name.to_vec(),
                    depth: 1,
                },
                _ => QuoteState::Inside {
                    at,
                    tag: name.to_vec(),
                    depth: 1,
                },
            };
        }
    }

    fn quote_end(&mut self, name: &[u8]) {
        if let QuoteState::Inside { at, tag, depth } = &mut self.quote
            && tag.as_slice() == name
        {
            *depth = depth.saturating_sub(1);
            if *depth == 0 {
                self.quote = QuoteState::Closed { at: *at };
            }
        }
    }

    fn visible_text(&mut self) {
        if let QuoteState::Closed { .. } = self.quote {
            self.quote = QuoteState::Interleaved;
        }
    }

    fn finish(self) -> HtmlText {
        let quote_at = match self.quote {
            QuoteState::Inside { at, .. } | QuoteState::Closed { at } | QuoteState::Rest { at } => {
                Some(at)
            }
            QuoteState::None | QuoteState::Interleaved => None,
        };
        let text = self.out.finish();
        HtmlText {
            // Only trailing blanks were trimmed, so `at` is still a char boundary.
            quote_at: quote_at.map(|at| at.min(text.len())),
            text,
        }
    }
}

/// Accumulates text with HTML's whitespace rules. It never starts with
/// whitespace, and never holds more than two line breaks in a row, so no
/// step needs to look back at what it wrote.
#[derive(Default)]
struct TextBuilder {
    out: String,
    pending_space: bool,
    /// Line breaks at the end of `out`.
    trailing_newlines: usize,
}

impl TextBuilder {
    fn len(&self) -> usize {
        self.out.len()
    }

    /// A text node (entities already decoded): runs of whitespace become one
    /// space. True when it held something visible.
    fn text(&mut self, text: &str) -> bool {
        let mut visible = false;
        for c in text.chars() {
            if c.is_whitespace() {
                self.pending_space = true;
            } else {
                if self.pending_space && !self.out.is_empty() && self.trailing_newlines == 0 {
                    self.out.push(' ');
                }
                self.pending_space = false;
                self.trailing_newlines = 0;
                self.out.push(c);
                visible = true;
            }
        }
        visible
    }

    fn space(&mut self) {
        self.pending_space = true;
    }

    fn line_break(&mut self) {
        self.pending_space = false;
        if !self.out.is_empty() && self.trailing_newlines < 2 {
            self.out.push('\n');
            self.trailing_newlines += 1;
        }
    }

    /// Ends the current line, then makes sure `newlines` line breaks
    /// separate what follows from the text so far.
    fn block_break(&mut self, newlines: usize) {
        self.pending_space = false;
        if self.out.is_empty() {
            return;
        }
        while self.trailing_newlines < newlines {
            self.out.push('\n');
            self.trailing_newlines += 1;
        }
    }

    fn finish(mut self) -> String {
        let end = self.out.trim_end().len();
        self.out.truncate(end);
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_to_text_cases() {
        let cases = [
            ("<p>One</p><p>Two</p>", "One\n\nTwo"),
            ("<div>A</div><div>B</div>", "A\nB"),
            ("a<br>b<br/><br />c", "a\nb\n\nc"),
            ("  lots \n of\t\tspace  ", "lots of space"),
            ("x&nbsp;&nbsp;y", "x y"),
            (
                "&lt;b&gt; &amp; &quot;q&quot; &#39;s&#39; &apos; &#x2014; &#8212; &eacute;",
                "<b> & \"q\" 's' ' — — é",
            ),
            ("&amp;lt; stays", "&lt; stays"),
            // As a browser shows them: legacy names without ';' decode, a
            // NUL reference is U+FFFD, unknown names stay as written.
            (
                "&unknown; &amp &#xZZ; &#0; & alone",
                "&unknown; & &#xZZ; \u{FFFD} & alone",
            ),
            ("a < b > c", "a < b > c"),
            (
                "<html><head><title>T</title><style>p{color:red}</style></head>\
<body><script type=\"x\">alert('<p>')</script>Hi</body></html>",
                "Hi",
            ),
            ("<STYLE>x</Style >after", "after"),
            ("<style>a</styles>b</style>c", "c"),
            ("<style/>hidden</style>shown", "shown"),
            (
                "<head><meta charset=utf-8><body>no closing head",
                "no closing head",
            ),
            (
                "<head><title>T</title><p>head ended by a paragraph",
                "head ended by a paragraph",
            ),
            ("<head><style>x</style> text ends it", "text ends it"),
            ("<template><p>t</p><template>u</template>v</template>w", "w"),
            ("<!-- hidden <b> -->shown<!-- open", "shown"),
            ("<a href=\"x>y\" title='>'>link</a> text", "link text"),
            (
                "<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>",
                "a b\nc",
            ),
            ("<ul><li>one</li><li>two</li></ul>", "one\ntwo"),
            ("br<br><br><br><br>many", "br\n\nmany"),
            ("<br><p>lead</p>", "lead"),
            ("before<span unterminated", "before"),
            ("<b>bo</b>ld", "bold"),
            ("", ""),
            ("<p> </p>", ""),
            ("<!DOCTYPE html><p>é ✂️</p>", "é ✂️"),
        ];
        for (html, want) in cases {
            assert_eq!(html_to_text(html), want, "{html}");
        }
    }

    #[test]
    fn truncated_input_never_panics() {
        let html =
            "<p a='>é'>ü&#x1F600;&amp</p><STYLE>é</STYLE é><!--é-->\u{2014}<br/é>&#99999999;<";
        for (i, _) in html.char_indices() {
            html_text(&html[..i]);
            html_text(&html[i..]);
        }
        assert_eq!(html_to_text(html), "ü\u{1F600}&\n\n\u{2014}\n\u{FFFD}<");
    }

    /// The text can never be longer than the HTML, whatever its shape, so
    /// no input makes the conversion produce more than it read.
    #[test]
    fn text_is_never_longer_than_the_html() {
        let shapes = [
            "<style>a{}</style>x".repeat(2000),
            "<div>".repeat(5000) + "deep" + &"</div>".repeat(5000),
            "&amp;&nGt;&#0;&ThickSpace;\0".repeat(2000),
            "<p>x<td>y<br>".repeat(2000),
            "<p".repeat(5000),
            "<br><p>\n".repeat(3000),
        ];
        for html in shapes {
            let text = html_to_text(&html);
            assert!(
                text.chars().count() <= html.chars().count(),
                "{} chars from {} ({}...)",
                text.chars().count(),
                html.chars().count(),
                &html[..20]
            );
        }
    }

    fn reply_of(html: &str) -> Option<String> {
        let HtmlText { text, quote_at } = html_text(html);
        quote_at.map(|at| text[..at].trim_end().to_string())
    }

    #[test]
    fn gmail_quote_div_starts_the_history() {
        let html = "<div dir=\"ltr\"><div>Thanks! Can I rebook?</div><div><br></div>\
<div>Maya</div></div><br><div class=\"gmail_quote gmail_quote_container\">\
<div dir=\"ltr\" class=\"gmail_attr\">On Sun, 25 Oct 2026 at 09:00, Lumière &lt;hello@x&gt; wrote:<br></div>\
<blockquote class=\"gmail_quote\" style=\"margin:0\">Hi Maya!<div class=\"gmail_quote\">older</div></blockquote></div>\n";
        assert_eq!(
            reply_of(html).as_deref(),
            Some("Thanks! Can I rebook?\n\nMaya")
        );
        assert!(html_to_text(html).ends_with("wrote:\nHi Maya!\nolder"));
    }

    #[test]
    fn apple_mail_and_thunderbird_quotes() {
        let apple = "<div>Saturday works.</div><div><br><blockquote type=\"cite\">\
<div>On 25 Oct 2026, at 09:00, Lumière &lt;hello@x&gt; wrote:</div><br>\
<div>Hi Maya</div></blockquote></div>";
        assert_eq!(reply_of(apple).as_deref(), Some("Saturday works."));
        let thunderbird = "<p>See you then.</p><div class=\"moz-cite-prefix\">On 25/10/2026 09:00, \
Lumière wrote:<br></div><blockquote type=\"cite\" cite=\"mid:x@y\">Hi</blockquote>";
        assert_eq!(reply_of(thunderbird).as_deref(), Some("See you then."));
    }

    #[test]
    fn outlook_reply_header_starts_the_history() {
        let html = "<div>Yes please, 3pm.</div><div id=\"appendonsend\"></div><hr>\
<div id=\"divRplyFwdMsg\"><b>From:</b> Lumière<br><b>Sent:</b> Sunday</div><div>Hi Maya</div>";
        assert_eq!(reply_of(html).as_deref(), Some("Yes please, 3pm."));
    }

    #[test]
    fn replies_between_quotes_are_not_cut() {
        let html = "<div>Answers below.</div><blockquote type=\"cite\">Which day?</blockquote>\
<div>Saturday.</div><blockquote type=\"cite\">What time?</blockquote><div>3pm.</div>";
        assert_eq!(reply_of(html), None);
        // A quote that only ends the mail is still history, even in two parts.
        let html = "<div>Yes.</div><blockquote type=\"cite\">a</blockquote>\n \
<blockquote type=\"cite\">b</blockquote>";
        assert_eq!(reply_of(html).as_deref(), Some("Yes."));
        // A blockquote without type=cite is the sender's own formatting.
        assert_eq!(reply_of("<p>x</p><blockquote>y</blockquote>"), None);
    }

    #[test]
    fn quote_markers_in_hidden_content_are_ignored() {
        let html = "<style>.gmail_quote{}</style><template><div class=\"gmail_quote\">x</div></template>\
<p>Reply</p>";
        assert_eq!(reply_of(html), None);
    }
}
