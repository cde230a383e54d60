//! Full-text search over every stored transcript (SQLite FTS5, the bundled SQLite's own engine).
//!
//! Each segment's text is a row of `segment_texts` (call, position, speaker, times, text), and
//! `segment_search` is an FTS5 index over it with `segment_texts` as its external content: the
//! index holds only tokens, and triggers keep it in step with every insert and delete. The rows
//! are written in the same transaction as the transcript, so a transcript is searchable exactly
//! when it is stored; redacting a stored transcript rewrites its rows (the index never holds a
//! redacted word).

use crate::query::{bound, ReportFilter};
use crate::{Result, Store, StoreError};
use callscore_core::{Segment, Speaker};
use rusqlite::{params_from_iter, Transaction};
use serde::Serialize;

/// Schema version 5: the search rows and their index, filled from the transcripts already
/// stored (`json_each` walks each transcript's segment array), so an existing database is
/// searchable after its upgrade.
pub(crate) const V5_SEARCH: &str = r#"
CREATE TABLE segment_texts (
    id        INTEGER PRIMARY KEY,
    call_id   TEXT NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    position  INTEGER NOT NULL,
    speaker   TEXT NOT NULL,
    start_ms  INTEGER NOT NULL,
    end_ms    INTEGER NOT NULL,
    text      TEXT NOT NULL
);
CREATE INDEX segment_texts_by_call ON segment_texts (call_id, position);

-- unicode61 folds case and (with remove_diacritics 2) accents, so "Zoë" finds "zoe".
CREATE VIRTUAL TABLE segment_search USING fts5(
    text,
    content = 'segment_texts',
    content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER segment_texts_indexed AFTER INSERT ON segment_texts BEGIN
    INSERT INTO segment_search (rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER segment_texts_unindexed AFTER DELETE ON segment_texts BEGIN
    INSERT INTO segment_search (segment_search, rowid, text) VALUES ('delete', old.id, old.text);
END;

INSERT INTO segment_texts (call_id, position, speaker, start_ms, end_ms, text)
SELECT t.call_id, s.key,
       COALESCE(json_extract(s.value, '$.speaker'), 'unknown'),
       COALESCE(json_extract(s.value, '$.start_ms'), 0),
       COALESCE(json_extract(s.value, '$.end_ms'), 0),
       COALESCE(json_extract(s.value, '$.text'), '')
FROM transcripts t, json_each(t.segments_json) s;
"#;

/// Writes a call's segments into the search rows (replacing any it had), inside the caller's
/// transaction.
pub(crate) fn index_segments(
    tx: &Transaction<'_>,
    call_id: &str,
    segments: &[Segment],
) -> rusqlite::Result<()> {
    tx.execute("DELETE FROM segment_texts WHERE call_id = ?1", [call_id])?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO segment_texts (call_id, position, speaker, start_ms, end_ms, text)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for (position, s) in segments.iter().enumerate() {
        insert.execute(rusqlite::params![
            call_id,
            position as i64,
            speaker_name(s.speaker),
            i64::try_from(s.start_ms).unwrap_or(i64::MAX),
            i64::try_from(s.end_ms).unwrap_or(i64::MAX),
            s.text,
        ])?;
    }
    Ok(())
}

pub(crate) fn speaker_name(s: Speaker) -> &'static str {
    match s {
        Speaker::Agent => "agent",
        Speaker::Caller => "caller",
        Speaker::Unknown => "unknown",
    }
}

/// What to search for and where.
#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    /// Words, "quoted phrases", `a NEAR/5 b`, `AND`/`OR`/`NOT`, `prefix*`.
    pub text: String,
    /// Only what this party said.
    pub speaker: Option<Speaker>,
    /// Only calls of this agent (without regard to case), and only calls in this date range
    /// (the report's `--from`/`--to`).
    pub filter: ReportFilter,
    /// At most this many hits (newest calls first; at most [`MAX_HITS`]).
    pub limit: usize,
}

/// Where the search text matched: one segment of one call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchHit {
    pub call_id: String,
    pub file_name: String,
    pub agent: Option<String>,
    /// When the call started (or was first stored), UTC.
    pub call_time: String,
    pub speaker: Speaker,
    pub start_ms: u64,
    pub end_ms: u64,
    /// The segment's text with each match between `«` and `»` (long segments cut to the part
    /// around the match, with `…`).
    pub marked: String,
}

/// Hits, and whether there were more than the limit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchResults {
    /// The query as the index was asked it (FTS5 syntax).
    pub engine_query: String,
    pub hits: Vec<SearchHit>,
    pub more: bool,
}

/// The most hits one search returns (a page of results, not an export of the database; it
/// also bounds the snippet query's parameters).
pub const MAX_HITS: usize = 10_000;

/// Opening and closing marks around a match in [`SearchHit::marked`].
pub const MARK_OPEN: &str = "«";
pub const MARK_CLOSE: &str = "»";

impl Store {
    /// Every stored segment matching `q`, newest call first, then in call order.
    pub fn search(&self, q: &SearchQuery) -> Result<SearchResults> {
        let engine_query = fts_query(&q.text)?;
        let mut values: Vec<String> = vec![engine_query.clone()];
        let mut conditions = String::new();
        let mut add = |clause: &str, value: String| {
            values.push(value);
            conditions.push_str(&clause.replace('?', &format!("?{}", values.len())));
        };
        if let Some(s) = q.speaker {
            add(" AND st.speaker = ?", speaker_name(s).to_string());
        }
        if let Some(agent) = &q.filter.agent {
            add(" AND c.agent = ? COLLATE NOCASE", agent.clone());
        }
        if let Some(from) = bound(&q.filter.from, "--from date", false)? {
            add(" AND COALESCE(c.started_at, c.created_at) >= ?", from);
        }
        if let Some(to) = bound(&q.filter.to, "--to date", true)? {
            add(" AND COALESCE(c.started_at, c.created_at) < ?", to);
        }
        let limit = q.limit.clamp(1, MAX_HITS);
        // Two steps: find and order the hits without their snippets, then mark the few shown.
        // snippet() in the first query would be computed for every match before the sort (a
        // common word matches in most of a year's calls: measured 4x slower on 100,000 calls).
        let sql = format!(
            "SELECT st.id, st.call_id, c.file_name, c.agent, COALESCE(c.started_at, c.created_at) AS call_time,
                    st.speaker, st.start_ms, st.end_ms
             FROM segment_search
             JOIN segment_texts st ON st.id = segment_search.rowid
             JOIN calls c ON c.id = st.call_id
             WHERE segment_search MATCH ?1{conditions}
             ORDER BY call_time DESC, st.call_id, st.start_ms
             LIMIT {}",
            limit + 1
        );
        let bad_search = |e: rusqlite::Error| match e {
            // The translated query is always valid FTS5, except for operators the user put in
            // the wrong places ("AND AND", "NOT" first): that is the user's to fix.
            rusqlite::Error::SqliteFailure(_, Some(msg)) if msg.starts_with("fts5:") => {
                StoreError::BadSearch {
                    query: q.text.clone(),
                    reason: msg,
                }
            }
            e => self.sql("searching transcripts")(e),
        };
        let mut stmt = self.conn.prepare_cached(&sql).map_err(&bad_search)?;
        let rows = stmt
            .query_map(params_from_iter(values.iter()), |r| {
                let speaker: String = r.get(5)?;
                Ok((
                    r.get::<_, i64>(0)?,
                    SearchHit {
                        call_id: r.get(1)?,
                        file_name: r.get(2)?,
                        agent: r.get(3)?,
                        call_time: r.get(4)?,
                        speaker: match speaker.as_str() {
                            "agent" => Speaker::Agent,
                            "caller" => Speaker::Caller,
                            _ => Speaker::Unknown,
                        },
                        start_ms: r.get::<_, i64>(6)?.max(0) as u64,
                        end_ms: r.get::<_, i64>(7)?.max(0) as u64,
                        marked: String::new(),
                    },
                ))
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(&bad_search)?;
        let more = rows.len() > limit;
        let shown: Vec<(i64, SearchHit)> = rows.into_iter().take(limit).collect();
        // One query for all the shown hits' snippets (the match expression parsed once).
        let ids = vec!["?"; shown.len()].join(", ");
        let mut marked: std::collections::HashMap<i64, String> = if shown.is_empty() {
            Default::default()
        } else {
            let mut snippet = self
                .conn
                .prepare(&format!(
                    "SELECT rowid, snippet(segment_search, 0, '{MARK_OPEN}', '{MARK_CLOSE}', '…', 40)
                     FROM segment_search WHERE segment_search MATCH ? AND rowid IN ({ids})"
                ))
                .map_err(&bad_search)?;
            let mut args: Vec<rusqlite::types::Value> = vec![engine_query.clone().into()];
            args.extend(shown.iter().map(|(id, _)| (*id).into()));
            let found = snippet
                .query_map(params_from_iter(args), |r| Ok((r.get(0)?, r.get(1)?)))
                .and_then(|rows| rows.collect::<rusqlite::Result<Vec<(i64, String)>>>())
                .map_err(&bad_search)?;
            found.into_iter().collect()
        };
        let hits = shown
            .into_iter()
            .map(|(id, mut hit)| {
                hit.marked = marked.remove(&id).unwrap_or_default();
                hit
            })
            .collect();
        Ok(SearchResults {
            engine_query,
            hits,
            more,
        })
    }
}

/// One piece of a search query, as typed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Piece {
    /// A word or a phrase (its text as typed, without quotes), `prefix`: ends in `*`.
    Term { text: String, prefix: bool },
    /// `AND`, `OR`, `NOT`, `(`, `)`.
    Op(&'static str),
    /// `NEAR` or `NEAR/N` between two terms.
    Near(u32),
}

/// Words between `NEAR` terms when no distance is given (FTS5's own default).
const NEAR_DEFAULT: u32 = 10;

/// Splits what an analyst types into words, phrases and operators (both backends' search reads
/// these; each writes them in its engine's syntax).
pub(crate) fn pieces(text: &str) -> Result<Vec<Piece>> {
    let bad = |reason: &str| StoreError::BadSearch {
        query: text.to_string(),
        reason: reason.to_string(),
    };
    // Control characters (NUL above all: SQLite reads the query as a C string and would stop
    // there, in the middle of a quoted term) separate words like spaces do.
    let separates = |c: char| c.is_whitespace() || c.is_control();
    let mut pieces = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if separates(c) {
            chars.next();
        } else if c == '(' || c == ')' {
            chars.next();
            pieces.push(Piece::Op(if c == '(' { "(" } else { ")" }));
        } else if c == '"' {
            chars.next();
            let phrase: String = chars
                .by_ref()
                .take_while(|&c| c != '"')
                .map(|c| if separates(c) { ' ' } else { c })
                .collect();
            if phrase.trim().is_empty() {
                continue;
            }
            let prefix = chars.peek() == Some(&'*');
            if prefix {
                chars.next();
            }
            pieces.push(Piece::Term {
                text: phrase.trim().to_string(),
                prefix,
            });
        } else {
            let mut word = String::new();
            while let Some(&c) = chars.peek() {
                if separates(c) || c == '(' || c == ')' || c == '"' {
                    break;
                }
                word.push(c);
                chars.next();
            }
            match word.as_str() {
                "AND" => pieces.push(Piece::Op("AND")),
                "OR" => pieces.push(Piece::Op("OR")),
                "NOT" => pieces.push(Piece::Op("NOT")),
                "NEAR" => pieces.push(Piece::Near(NEAR_DEFAULT)),
                w if w.starts_with("NEAR/") => {
                    let n: u32 = w["NEAR/".len()..].parse().map_err(|_| {
                        bad("NEAR/ takes a number of words, e.g. refund NEAR/5 manager")
                    })?;
                    pieces.push(Piece::Near(n));
                }
                w => {
                    let (stem, prefix) = match w.strip_suffix('*') {
                        Some(stem) if !stem.is_empty() => (stem, true),
                        _ => (w, false),
                    };
                    // Only words with a letter or digit in them mean anything to the index.
                    if stem.chars().any(char::is_alphanumeric) {
                        pieces.push(Piece::Term {
                            text: stem.to_string(),
                            prefix,
                        });
                    }
                }
            }
        }
    }
    Ok(pieces)
}

/// Translates what an analyst types into an FTS5 query. Written by hand because FTS5 has no
/// "plain text" mode: a bare `e-mail`, `o'clock` or `3:15` is a syntax error there, so every
/// word becomes a quoted string, while `"phrases"`, `AND`/`OR`/`NOT`, parentheses, `word*`
/// prefixes and `a NEAR/5 b` (the FTS4 spelling people know) keep their meaning.
pub fn fts_query(text: &str) -> Result<String> {
    let bad = |reason: &str| StoreError::BadSearch {
        query: text.to_string(),
        reason: reason.to_string(),
    };
    let quote = |t: &str, prefix: bool| {
        let mut q = format!("\"{}\"", t.replace('"', "\"\""));
        if prefix {
            q.push('*');
        }
        q
    };
    let pieces = pieces(text)?;
    // `a NEAR/n b NEAR/n c` → NEAR(a b c, n).
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < pieces.len() {
        match &pieces[i] {
            Piece::Term { text, prefix } => {
                let t = quote(text, *prefix);
                let mut group = vec![t.clone()];
                let mut distance = None;
                while let (Some(Piece::Near(n)), Some(Piece::Term { text, prefix })) =
                    (pieces.get(i + 1), pieces.get(i + 2))
                {
                    group.push(quote(text, *prefix));
                    distance = Some(distance.map_or(*n, |d: u32| d.max(*n)));
                    i += 2;
                }
                match distance {
                    Some(n) => out.push(format!("NEAR({}, {n})", group.join(" "))),
                    None => out.push(t),
                }
            }
            Piece::Op(op) => out.push((*op).to_string()),
            Piece::Near(_) => return Err(bad("NEAR goes between two words or phrases")),
        }
        i += 1;
    }
    if !out
        .iter()
        .any(|p| p.starts_with('"') || p.starts_with("NEAR("))
    {
        return Err(bad("nothing to search for (give a word or a \"phrase\")"));
    }
    Ok(out.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_become_quoted_terms_so_punctuation_is_harmless() {
        assert_eq!(
            fts_query("cancel my account").unwrap(),
            "\"cancel\" \"my\" \"account\""
        );
        assert_eq!(fts_query("e-mail 3:15").unwrap(), "\"e-mail\" \"3:15\"");
        assert_eq!(fts_query("o\"clock").unwrap(), "\"o\" \"clock\"");
    }

    #[test]
    fn phrases_operators_prefixes_and_near_keep_their_meaning() {
        assert_eq!(
            fts_query("\"cancel my account\" OR refund*").unwrap(),
            "\"cancel my account\" OR \"refund\"*"
        );
        assert_eq!(
            fts_query("refund NEAR/5 manager").unwrap(),
            "NEAR(\"refund\" \"manager\", 5)"
        );
        assert_eq!(
            fts_query("(refund NEAR \"speak to\") NOT sorry").unwrap(),
            "( NEAR(\"refund\" \"speak to\", 10) ) NOT \"sorry\""
        );
        // Lower-case "and"/"near" are words, as people type them.
        assert_eq!(
            fts_query("near and far").unwrap(),
            "\"near\" \"and\" \"far\""
        );
    }

    #[test]
    fn control_characters_separate_words_and_never_reach_the_engine() {
        // Found by the search_query fuzz target: a NUL ended SQLite's reading of the query
        // inside a quoted term ("unterminated string").
        assert_eq!(fts_query("\0\0\0\0manag*").unwrap(), "\"manag\"*");
        assert_eq!(
            fts_query("\"cancel\0my\u{7}account\" re\u{1b}fund").unwrap(),
            "\"cancel my account\" \"re\" \"fund\""
        );
        assert!(fts_query("\0\u{1}\u{7f}").is_err());
    }

    #[test]
    fn queries_with_nothing_to_find_are_refused_with_a_reason() {
        for q in ["", "   ", "\"\"", "- ...", "AND", "NEAR/x a", "a NEAR"] {
            let e = fts_query(q).unwrap_err();
            assert!(matches!(e, StoreError::BadSearch { .. }), "{q:?}: {e}");
        }
    }
}
