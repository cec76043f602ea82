//! CSV that opens cleanly in Excel and Google Sheets: RFC 4180 (every field
//! quoted, quotes doubled, CRLF line ends), UTF-8, a header row, and free
//! text that cannot run as a formula (OWASP "CSV Injection"): a text cell
//! starting with `=`, `+`, `-`, `@`, tab, carriage return or NUL gets a
//! leading `'`. Numeric columns are written as plain numbers and never
//! neutralized, so a refund of `-5.00` stays a number.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::document::{author_label, channel_label, direction_label, local_time, money};
use crate::model::{EventDetail, TimelineEvent};

/// What starts a formula in a spreadsheet.
const FORMULA_STARTS: [char; 7] = ['=', '+', '-', '@', '\t', '\r', '\0'];

/// The UTF-8 byte order mark, for spreadsheets that guess the encoding.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Free text as a spreadsheet must show it: as text, never as a formula.
pub fn neutralize(text: &str) -> Cow<'_, str> {
    if text.starts_with(FORMULA_STARTS) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// A cell of a row.
pub enum Cell<'a> {
    /// Free text (neutralized).
    Text(Cow<'a, str>),
    /// A number, written as it is.
    Number(String),
    Empty,
}

impl<'a> Cell<'a> {
    pub fn text(value: impl Into<Cow<'a, str>>) -> Self {
        Cell::Text(value.into())
    }

    fn opt_text(value: Option<impl Into<Cow<'a, str>>>) -> Self {
        value.map_or(Cell::Empty, Cell::text)
    }

    pub fn number(value: impl ToString) -> Self {
        Cell::Number(value.to_string())
    }

    fn opt_number(value: Option<impl ToString>) -> Self {
        value.map_or(Cell::Empty, Cell::number)
    }
}

/// One CSV record, line end included.
pub fn record(cells: &[Cell<'_>]) -> Vec<u8> {
    let mut line = Vec::with_capacity(cells.len() * 16);
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            line.push(b',');
        }
        let value: Cow<'_, str> = match cell {
            Cell::Text(text) => neutralize(text),
            Cell::Number(number) => Cow::Borrowed(number.as_str()),
            Cell::Empty => Cow::Borrowed(""),
        };
        line.push(b'"');
        line.extend_from_slice(value.replace('"', "\"\"").as_bytes());
        line.push(b'"');
    }
    line.extend_from_slice(b"\r\n");
    line
}

/// The header row.
pub fn header(columns: &[&str]) -> Vec<u8> {
    let cells: Vec<Cell<'_>> = columns.iter().map(|c| Cell::text(*c)).collect();
    record(&cells)
}

/// The columns of an event export (bulk, and a conversation as CSV), as
/// docs/exports.md documents them.
pub const EVENT_COLUMNS: [&str; 20] = [
    "event_id",
    "contact_id",
    "contact_name",
    "stage",
    "occurred_at_local",
    "occurred_at_utc",
    "channel",
    "type",
    "direction",
    "author",
    "status",
    "deleted",
    "text",
    "attachments",
    "duration_seconds",
    "service",
    "starts_at_local",
    "amount",
    "refunded",
    "currency",
];

/// Who the event belongs to, as the export shows it.
#[derive(Debug, Clone, Default)]
pub struct ContactColumns {
    pub name: Option<String>,
    pub stage: Option<String>,
}

fn utc(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// One event as a row of [`EVENT_COLUMNS`]. Callers leave notes out unless
/// an admin asked for them.
pub fn event_record(event: &TimelineEvent, contact: &ContactColumns, tz: Tz) -> Vec<u8> {
    let mut cells = vec![
        Cell::text(event.event_id.as_str()),
        Cell::text(event.contact_id.as_str()),
        Cell::opt_text(contact.name.as_deref()),
        Cell::opt_text(contact.stage.as_deref()),
        Cell::text(local_time(event.occurred_at, tz)),
        Cell::text(utc(event.occurred_at)),
        Cell::opt_text(event.channel.map(channel_label)),
        Cell::text(event.detail.type_name()),
    ];
    // direction, author, status, deleted, text, attachments, duration,
    // service, starts_at, amount, refunded, currency
    let mut rest: [Cell<'_>; 12] = std::array::from_fn(|_| Cell::Empty);
    match &event.detail {
        EventDetail::Message(m) => {
            rest[0] = Cell::text(direction_label(m.direction));
            rest[1] = Cell::text(author_label(&m.author));
            rest[2] = Cell::opt_text(m.status.map(|s| s.as_str()));
            rest[3] = Cell::text(if m.deleted { "true" } else { "false" });
            rest[4] = if m.deleted {
                Cell::text(super::document::DELETED_MESSAGE)
            } else {
                Cell::opt_text(m.full_body.as_deref().or(m.body.as_deref()))
            };
            if !m.deleted {
                let names: Vec<String> = m
                    .attachments
                    .iter()
                    .map(|a| match a.filename.as_deref() {
                        Some(name) => format!("{}: {name}", a.kind),
                        None => a.kind.clone(),
                    })
                    .collect();
                rest[5] = Cell::text(names.join("; "));
            }
        }
        EventDetail::Call(c) => {
            rest[0] = Cell::text(direction_label(c.direction));
            rest[2] = Cell::text(c.status.as_str());
            rest[6] = Cell::opt_number(c.duration_secs);
        }
        EventDetail::Booking(b) => {
            rest[2] = Cell::text(b.status.as_str());
            rest[7] = Cell::opt_text(b.service.as_deref());
            rest[8] = Cell::opt_text(b.starts_at.map(|at| local_time(at, tz)));
        }
        EventDetail::Payment(p) => {
            rest[2] = Cell::text(p.status.as_str());
            rest[4] = Cell::opt_text(p.description.as_deref());
            rest[9] = Cell::number(money(p.amount_minor, &p.currency));
            rest[10] = Cell::opt_number(p.refunded_minor.map(|r| money(r, &p.currency)));
            rest[11] = Cell::text(p.currency.to_ascii_uppercase());
        }
        EventDetail::Note(n) => {
            rest[1] = Cell::text(author_label(&crate::model::Author::Human {
                user_id: Some(n.author_user_id.clone()),
            }));
            rest[4] = Cell::text(n.body.as_str());
        }
        EventDetail::StageChange(change) => {
            rest[1] = Cell::text(format!("Staff ({})", change.by_user_id));
            rest[4] = Cell::text(match &change.from {
                Some(from) => format!("stage {from} -> {}", change.to),
                None => format!("stage -> {}", change.to),
            });
        }
        EventDetail::IdentityLink(link) => {
            rest[1] = Cell::text(format!("Staff ({})", link.by_user_id));
            rest[4] = Cell::text(format!("{} {}", link.action, link.other_contact_id));
        }
    }
    cells.extend(rest);
    record(&cells)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_starts_are_neutralized_and_other_text_is_not() {
        for bad in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "\0x"] {
            assert_eq!(neutralize(bad), format!("'{bad}"), "{bad:?}");
        }
        for fine in ["hello", "1+1", " =x", "'quoted", ""] {
            assert_eq!(neutralize(fine), fine);
        }
    }

    #[test]
    fn records_quote_every_field_double_quotes_and_end_in_crlf() {
        let line = record(&[
            Cell::text("a \"b\", c\nd"),
            Cell::number("-5.00"),
            Cell::Empty,
            Cell::text("=HYPERLINK(\"http://x\")"),
        ]);
        assert_eq!(
            String::from_utf8(line).unwrap(),
            "\"a \"\"b\"\", c\nd\",\"-5.00\",\"\",\"'=HYPERLINK(\"\"http://x\"\")\"\r\n"
        );
    }
}
