//! Where the quoted history below a plain-text reply starts.
//!
//! Mail clients put the earlier conversation under a reply in a few fixed
//! shapes. Each rule below needs the whole shape, not a lone phrase, so a
//! reply that merely mentions "wrote:" or "From:" is not cut:
//!
//! * an attribution (`On <date>, <name> wrote:`, up to three lines when
//!   wrapped, ending in `:`; also French, German, Spanish, Dutch, Italian
//!   and Portuguese forms) directly followed (blank lines aside) by a `>`
//!   line; one that opens the mail (a reply written below the quote) is
//!   not reply text;
//! * Outlook's `-----Original Message-----` separator line (and its
//!   German, French and Spanish forms);
//! * Outlook's header block: `From:` followed by at least two of
//!   `Sent:`/`Date:`, `To:`, `Subject:` within the next lines (with the
//!   `____` rule above it, if any; also in a few other languages), unless
//!   it is a forwarded message's;
//! * a run of `>` lines that ends the mail.
//!
//! The cut is only made when text remains above it: a mail that is all
//! quote (a bare forward) is shown whole.

/// Lines an attribution may take once wrapped (Gmail wraps at 78 columns).
const ATTRIBUTION_LINES: usize = 3;
/// Blank lines allowed between an attribution and the quote.
const BLANKS_BEFORE_QUOTE: usize = 2;
/// Lines after `From:` in which the rest of a reply header must appear.
const HEADER_LINES: usize = 5;

/// (how the first line starts, a word the attribution holds), lowercase.
/// The attribution's last line ends with `:`; the name may stand after the
/// word (`Am ... schrieb Lumière <hello@x>:`).
const ATTRIBUTIONS: &[(&str, &str)] = &[
    ("on ", "wrote"),
    ("le ", "a écrit"),
    ("am ", "schrieb"),
    ("el ", "escribió"),
    ("op ", "schreef"),
    ("il ", "ha scritto"),
    ("em ", "escreveu"),
];

const ORIGINAL_MESSAGE: &[&str] = &[
    "original message",
    "ursprüngliche nachricht",
    "message d'origine",
    "mensaje original",
];

const FROM: &[&str] = &["from:", "de :", "de:", "von:", "van:", "da:"];
const SENT: &[&str] = &[
    "sent:",
    "date:",
    "envoyé :",
    "envoyé:",
    "gesendet:",
    "verzonden:",
    "enviado:",
    "enviado el:",
    "inviato:",
    "datum:",
];
const TO: &[&str] = &["to:", "à :", "à:", "an:", "aan:", "para:", "a:"];
const SUBJECT: &[&str] = &[
    "subject:",
    "objet :",
    "objet:",
    "betreff:",
    "onderwerp:",
    "asunto:",
    "oggetto:",
    "assunto:",
];
const FORWARDED: &[&str] = &["forwarded message", "begin forwarded message"];

/// Byte offset in `text` where quoted history starts, when some reply text
/// stands above it. Linear: every rule looks at a bounded number of lines.
pub fn quote_start(text: &str) -> Option<usize> {
    let lines = Lines::new(text);
    let mut trailing_quote: Option<usize> = None;
    let mut seen_text = false;
    let mut i = 0;
    while i < lines.len() {
        let line = lines.trimmed(i);
        if line.is_empty() {
            i += 1;
            continue;
        }
        if let Some(last) = attribution(&lines, i) {
            if seen_text {
                return Some(lines.offset(i));
            }
            // A mail that opens with a quote (the reply is below it): its
            // attribution is not reply text.
            i = last + 1;
            continue;
        }
        if seen_text {
            if original_message(line) {
                return Some(lines.offset(i));
            }
            if let Some(start) = reply_header(&lines, i) {
                return Some(lines.offset(start));
            }
        }
        // Separators are not reply text.
        if original_message(line) || is_rule(line) {
            i += 1;
            continue;
        }
        if line.starts_with('>') {
            if seen_text {
                trailing_quote.get_or_insert(i);
            }
        } else {
            trailing_quote = None;
            seen_text = true;
        }
        i += 1;
    }
    trailing_quote.map(|i| lines.offset(i))
}

/// The lines of a text with their byte offsets.
struct Lines<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Self { text, starts }
    }

    fn len(&self) -> usize {
        self.starts.len()
    }

    fn offset(&self, i: usize) -> usize {
        self.starts[i]
    }

    /// Line `i` without its line break and surrounding blanks; "" past the end.
    fn trimmed(&self, i: usize) -> &'a str {
        let Some(&start) = self.starts.get(i) else {
            return "";
        };
        let end = self.starts.get(i + 1).copied().unwrap_or(self.text.len());
        self.text[start..end].trim()
    }
}

fn starts_with_any(line: &str, prefixes: &[&str]) -> bool {
    prefixes.iter().any(|p| starts_with_ignore_case(line, p))
}

fn starts_with_ignore_case(line: &str, prefix: &str) -> bool {
    line.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

/// The attribution's last line, when one starts at line `i` and a `>`
/// line follows it.
fn attribution(lines: &Lines, i: usize) -> Option<usize> {
    let first = lines.trimmed(i);
    let words: Vec<&str> = ATTRIBUTIONS
        .iter()
        .filter(|(prefix, _)| starts_with_ignore_case(first, prefix))
        .map(|&(_, word)| word)
        .collect();
    if words.is_empty() {
        return None;
    }
    let mut has_word = false;
    for last in i..i + ATTRIBUTION_LINES {
        let line = lines.trimmed(last);
        // Wrapped attributions have no blank line inside them.
        if line.is_empty() {
            return None;
        }
        let lower = line.to_lowercase();
        has_word |= words.iter().any(|w| lower.contains(w));
        if has_word && line.ends_with(':') {
            let quoted = (last + 1..=last + 1 + BLANKS_BEFORE_QUOTE)
                .map(|j| lines.trimmed(j))
                .find(|line| !line.is_empty())?;
            return quoted.starts_with('>').then_some(last);
        }
    }
    None
}

/// `-----Original Message-----` and its translations, alone on a line.
fn original_message(line: &str) -> bool {
    let inner = line.trim_matches('-');
    line.starts_with("--")
        && line.ends_with("--")
        && ORIGINAL_MESSAGE
            .iter()
            .any(|m| inner.trim().eq_ignore_ascii_case(m))
}

/// A line drawn with `_` or `-`, as Outlook puts above its reply header.
fn is_rule(line: &str) -> bool {
    line.len() >= 8 && line.chars().all(|c| c == '_' || c == '-')
}

/// Where Outlook's `From:` / `Sent:` / `To:` / `Subject:` block starts (its
/// `____` rule above it included).
fn reply_header(lines: &Lines, i: usize) -> Option<usize> {
    if !starts_with_any(lines.trimmed(i), FROM) {
        return None;
    }
    let mut fields = [false; 3];
    for j in i + 1..=i + HEADER_LINES {
        let line = lines.trimmed(j);
        for (seen, names) in fields.iter_mut().zip([SENT, TO, SUBJECT]) {
            *seen |= starts_with_any(line, names);
        }
    }
    if fields.iter().filter(|&&f| f).count() < 2 {
        return None;
    }
    // The line above, blank lines skipped: a forward's banner or a rule.
    let above = (i.saturating_sub(3)..i)
        .rev()
        .find(|&j| !lines.trimmed(j).is_empty());
    match above {
        Some(j) => {
            let line = lines.trimmed(j);
            let lower = line.to_lowercase();
            if FORWARDED.iter().any(|f| lower.contains(f)) {
                None
            } else if is_rule(line) {
                Some(j)
            } else {
                Some(i)
            }
        }
        None => Some(i),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(text: &str) -> &str {
        match quote_start(text) {
            Some(at) => text[..at].trim_end(),
            None => text,
        }
    }

    #[test]
    fn gmail_plain_text_reply() {
        let text = "Thanks! Can I rebook?\n\nSame again in about 8 weeks would be perfect.\n\nMaya\n\n\
On Sun, 25 Oct 2026 at 09:00, Lumière Hair Studio <hello@lumierehair.example> wrote:\n\
> Hi Maya, thank you for visiting us yesterday! We hope you love your new\n\
> balayage.\n";
        assert_eq!(
            reply(text),
            "Thanks! Can I rebook?\n\nSame again in about 8 weeks would be perfect.\n\nMaya"
        );
    }

    #[test]
    fn wrapped_attribution_and_blank_line_before_the_quote() {
        let text = "Saturday is fine.\r\n\r\nOn Sun, 25 Oct 2026 at 09:00, Lumière Hair Studio <\r\n\
hello@lumierehair.example> wrote:\r\n\r\n> Hi Maya\r\n>\r\n> See you\r\n";
        assert_eq!(reply(text), "Saturday is fine.");
    }

    #[test]
    fn apple_mail_reply() {
        let text = "Perfect, see you then!\n\nSent from my iPhone\n\n\
On 25 Oct 2026, at 09:00, Lumière Hair Studio <hello@lumierehair.example> wrote:\n\n\
> Hi Maya,\n> your appointment is confirmed.\n";
        assert_eq!(reply(text), "Perfect, see you then!\n\nSent from my iPhone");
    }

    #[test]
    fn outlook_original_message_and_header_block() {
        let separator = "Yes, 3pm works.\n\n-----Original Message-----\n\
From: Lumière Hair Studio <hello@lumierehair.example>\nSent: Sunday, October 25, 2026 9:00 AM\n\
To: Maya Lopez <maya@example.com>\nSubject: Your appointment\n\nHi Maya\n";
        assert_eq!(reply(separator), "Yes, 3pm works.");

        let header = "Yes, 3pm works.\n\nMaya\n\n________________________________\n\
From: Lumière Hair Studio <hello@lumierehair.example>\nSent: Sunday, October 25, 2026 9:00 AM\n\
To: Maya Lopez <maya@example.com>\nSubject: Your appointment\n\nHi Maya\n";
        assert_eq!(reply(header), "Yes, 3pm works.\n\nMaya");

        let german = "Passt.\n\nVon: Lumière <hello@x>\nGesendet: Sonntag, 25. Oktober 2026 09:00\n\
An: Maya\nBetreff: Termin\n\nHallo";
        assert_eq!(reply(german), "Passt.");
    }

    #[test]
    fn localized_attributions() {
        for header in [
            "Le dim. 25 oct. 2026 à 09:00, Lumière <hello@x> a écrit :",
            "Am So., 25. Okt. 2026 um 09:00 Uhr schrieb Lumière <hello@x>:",
            "El dom, 25 oct 2026 a las 9:00, Lumière (<hello@x>) escribió:",
        ] {
            let text = format!("Merci !\n\n{header}\n> Bonjour\n");
            assert_eq!(reply(&text), "Merci !", "{header}");
        }
    }

    #[test]
    fn quote_markers_inside_the_reply_are_not_cut() {
        let texts = [
            // An attribution-like sentence, not followed by a quote.
            "On Monday my sister wrote: she can't make it either.\n\n\
On Sun, 25 Oct 2026 at 09:00, Lumière wrote:\nthat was the text she sent.\n\nMaya",
            // "wrote:" that ends a sentence, then the customer's own words.
            "Thanks.\nOn the form I wrote:\nBalayage, half head.\n",
            // "From:" without the rest of a header.
            "Hi,\nFrom: the 3rd of November I'm away.\nTo: be honest I'd rather come earlier.\n",
            // A forward is what the customer sends us, not history.
            "See below.\n\n---------- Forwarded message ---------\nFrom: Bank <no-reply@bank.example>\n\
Date: Sun, 25 Oct 2026\nSubject: Receipt\nTo: <maya@example.com>\n\nPaid.\n",
            // Answers written between quoted lines.
            "> Which day?\nSaturday.\n> What time?\n3pm.\n",
            // Dashes that are not Outlook's separator.
            "Price list:\n-----\nCut 40\n-----Original price-----\n",
        ];
        for text in texts {
            assert_eq!(quote_start(text), None, "{text}");
        }
    }

    #[test]
    fn a_reply_written_below_the_quote_is_kept_whole() {
        let text = "On Sun, 25 Oct 2026, Lumière wrote:\n> Saturday or Sunday?\n\nSunday please.\n";
        assert_eq!(quote_start(text), None);
    }

    #[test]
    fn a_trailing_quote_without_attribution_is_history() {
        assert_eq!(
            reply("Yes!\n\n> Can you come Saturday?\n>\n> Lumière\n"),
            "Yes!"
        );
    }

    #[test]
    fn all_quote_is_kept_whole() {
        for text in [
            "> only a quote\n> here\n",
            "On Sun, 25 Oct 2026, Lumière wrote:\n> Hi\n",
            "-----Original Message-----\nFrom: a\nSent: b\nTo: c\n",
            "",
            "\n\n",
        ] {
            assert_eq!(quote_start(text), None, "{text:?}");
        }
    }

    #[test]
    fn never_panics_on_cut_text() {
        let text = "Ça va?\r\nLe dim. 25 oct. à 09:00, é a écrit :\r\n> ü\r\n-----Ursprüngliche Nachricht-----\r\nVon: x\r\n";
        for (i, _) in text.char_indices() {
            quote_start(&text[..i]);
            quote_start(&text[i..]);
        }
    }
}
