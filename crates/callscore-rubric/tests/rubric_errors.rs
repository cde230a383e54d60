//! Malformed rubrics are refused before anything is scored, with file, line, column and a hint.

use callscore_rubric::{ProblemKind, Rubric, RubricError};

fn problems(src: &str) -> Vec<callscore_rubric::Problem> {
    match Rubric::from_toml_str(src, "bad.toml") {
        Ok(_) => panic!("rubric was accepted:\n{src}"),
        Err(e) => e.problems().to_vec(),
    }
}

fn only(src: &str) -> callscore_rubric::Problem {
    let p = problems(src);
    assert_eq!(p.len(), 1, "{p:#?}");
    p.into_iter().next().unwrap()
}

const HEAD: &str = "id = \"r\"\n";

#[test]
fn toml_syntax_error() {
    let p = only("id = \"r\"\n[[criteria]\n");
    assert_eq!((p.kind, p.line, p.column), (ProblemKind::Syntax, 2, 12));
}

#[test]
fn unknown_field_with_did_you_mean() {
    let p = only(&format!(
        "{HEAD}[[criteria]]\nid = \"g\"\ncheck = \"greeting\"\nwithn = \"30s\"\n"
    ));
    assert_eq!(
        (p.kind, p.line, p.column),
        (ProblemKind::UnknownField, 5, 1)
    );
    assert_eq!(p.message, "unknown field `withn`");
    assert_eq!(p.hint.as_deref(), Some("did you mean `within`?"));
    let top = only("id = \"r\"\npassmark = 80\n[[criteria]]\nid = \"g\"\ncheck = \"greeting\"\n");
    assert_eq!(top.hint.as_deref(), Some("did you mean `pass_mark`?"));
}

#[test]
fn unknown_check() {
    let p = only(&format!(
        "{HEAD}[[criteria]]\nid = \"q\"\ncheck = \"questoins\"\n"
    ));
    assert_eq!(
        (p.kind, p.line, p.column),
        (ProblemKind::UnknownCheck, 4, 9)
    );
    assert_eq!(p.hint.as_deref(), Some("did you mean `questions`?"));
}

#[test]
fn invalid_regex() {
    let p = only(&format!(
        "{HEAD}[[criteria]]\nid = \"c\"\nnone = [\n  'fine',\n  '(?i)\\b(calm down',\n]\n"
    ));
    assert_eq!(
        (p.kind, p.line, p.column),
        (ProblemKind::InvalidRegex, 6, 3)
    );
    assert!(p.message.contains("unclosed group"), "{}", p.message);
}

#[test]
fn duplicate_id() {
    let p = only(&format!("{HEAD}[[criteria]]\nid = \"g\"\ncheck = \"greeting\"\n[[criteria]]\nid = \"g\"\ncheck = \"agent_name\"\n"));
    assert_eq!((p.kind, p.line, p.column), (ProblemKind::DuplicateId, 6, 6));
    assert_eq!(
        p.hint.as_deref(),
        Some("first defined on line 3; ids must be unique")
    );
}

#[test]
fn weight_out_of_range() {
    for w in ["-1", "101", "nan"] {
        let p = only(&format!(
            "{HEAD}[[criteria]]\nid = \"g\"\nweight = {w}\ncheck = \"greeting\"\n"
        ));
        assert_eq!(
            (p.kind, p.line, p.column),
            (ProblemKind::OutOfRange, 4, 10),
            "{w}"
        );
    }
    let p = only("id = \"r\"\npass_mark = 180\n[[criteria]]\nid = \"g\"\ncheck = \"greeting\"\n");
    assert_eq!(p.kind, ProblemKind::OutOfRange);
}

#[test]
fn bad_durations() {
    let p = only(&format!(
        "{HEAD}[[criteria]]\nid = \"g\"\ncheck = \"greeting\"\nwithin = \"30\"\n"
    ));
    assert_eq!((p.kind, p.line), (ProblemKind::BadDuration, 5));
    assert!(p.message.contains("no unit"), "{}", p.message);
    let p = only(&format!(
        "{HEAD}[[criteria]]\nid = \"d\"\ncheck = \"dead_air\"\nmax = 20\n"
    ));
    assert_eq!(p.kind, ProblemKind::BadDuration);
    assert_eq!(
        p.hint.as_deref(),
        Some("write it with a unit, e.g. `max = \"20s\"`")
    );
}

#[test]
fn parameters_that_do_not_fit_the_check() {
    let p = only(&format!(
        "{HEAD}[[criteria]]\nid = \"d\"\ncheck = \"dead_air\"\nmax = \"20s\"\nopen_min = 1\n"
    ));
    assert_eq!((p.kind, p.line), (ProblemKind::BadParameter, 6));
    assert_eq!(p.hint.as_deref(), Some("check `dead_air` takes: `max`"));
    let p = only(&format!(
        "{HEAD}[[criteria]]\nid = \"d\"\ncheck = \"dead_air\"\n"
    ));
    assert_eq!((p.kind, p.line), (ProblemKind::MissingField, 4));
    let p = only(&format!(
        "{HEAD}[[criteria]]\nid = \"x\"\nmin = 2\nany = ['a']\n"
    ));
    assert_eq!(p.kind, ProblemKind::BadParameter);
    let p = only(&format!("{HEAD}[[criteria]]\nid = \"x\"\nweight = 5\n"));
    assert_eq!(p.kind, ProblemKind::MissingField);
    let p = only(&format!(
        "{HEAD}[[criteria]]\nid = \"g\"\ncheck = \"greeting\"\nspeaker = \"caller\"\n"
    ));
    assert_eq!(p.kind, ProblemKind::BadParameter);
    let p = only(&format!(
        "{HEAD}[[criteria]]\nid = \"x\"\nspeaker = \"agnet\"\nany = ['a']\n"
    ));
    assert_eq!(p.hint.as_deref(), Some("did you mean `agent`?"));
}

#[test]
fn every_problem_is_reported_at_once() {
    let src = format!("{HEAD}[[criteria]]\nid = \"a\"\ncheck = \"nope\"\n[[criteria]]\nid = \"b\"\nweight = 500\nany = ['(']\n");
    let p = problems(&src);
    let kinds: Vec<ProblemKind> = p.iter().map(|p| p.kind).collect();
    assert_eq!(
        kinds,
        vec![
            ProblemKind::UnknownCheck,
            ProblemKind::OutOfRange,
            ProblemKind::InvalidRegex
        ]
    );
}

#[test]
fn the_message_shows_file_line_column_source_and_hint() {
    let err = Rubric::from_toml_str(
        &format!("{HEAD}[[criteria]]\nid = \"g\"\ncheck = \"greting\"\n"),
        "rubrics/bad.toml",
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "rubrics/bad.toml:4:9: unknown check `greting`\n  |\n4 | check = \"greting\"\n  |         ^^^^^^^^^\n  = hint: did you mean `greeting`?"
    );
}

#[test]
fn unreadable_file_names_the_path() {
    let err = Rubric::from_path(std::path::Path::new("/no/such/rubric.toml")).unwrap_err();
    assert!(matches!(err, RubricError::Read { .. }));
    assert!(
        err.to_string()
            .starts_with("cannot read rubric /no/such/rubric.toml:"),
        "{err}"
    );
}

#[test]
fn a_good_rubric_exposes_its_identity() {
    let src = "id = \"r\"\nname = \"R\"\nversion = 3\npass_mark = 70\n[[criteria]]\nid = \"g\"\ncheck = \"greeting\"\n";
    let r = Rubric::from_toml_str(src, "r.toml").unwrap();
    assert_eq!(
        (r.id(), r.name(), r.version(), r.pass_mark()),
        ("r", "R", 3, 70.0)
    );
    assert_eq!(r.hash().len(), 64);
    assert_ne!(
        r.hash(),
        Rubric::from_toml_str(&src.replace("70", "71"), "r.toml")
            .unwrap()
            .hash()
    );
    assert_eq!(
        r.criteria()[0].window(),
        callscore_rubric::Window::First(30_000),
        "greeting defaults to the first 30 s"
    );
}

#[test]
fn min_judged_must_be_a_share() {
    let p = only("id = \"r\"\nmin_judged = 60\n[[criteria]]\nid = \"g\"\ncheck = \"greeting\"\n");
    assert_eq!(
        (p.kind, p.line, p.column, p.underline),
        (ProblemKind::OutOfRange, 2, 14, 2)
    );
    assert_eq!(
        p.message,
        "`min_judged` must be between 0 and 1 (a share), not 60"
    );
    assert_eq!(
        p.hint.as_deref(),
        Some("it is a share of the rubric's weight, not a percent: did you mean 0.6?")
    );
    let p = only("id = \"r\"\nmin_judged = -0.5\n[[criteria]]\nid = \"g\"\ncheck = \"greeting\"\n");
    assert_eq!((p.kind, p.line), (ProblemKind::OutOfRange, 2));
    assert!(p.hint.unwrap().contains("60%"));
    let p =
        only("id = \"r\"\nmin_judged = \"most\"\n[[criteria]]\nid = \"g\"\ncheck = \"greeting\"\n");
    assert_eq!(
        (p.kind, p.line, p.column),
        (ProblemKind::InvalidValue, 2, 14)
    );
    let p = only("id = \"r\"\nmin_jugded = 0.5\n[[criteria]]\nid = \"g\"\ncheck = \"greeting\"\n");
    assert_eq!(p.hint.as_deref(), Some("did you mean `min_judged`?"));
    let r = Rubric::from_toml_str(
        "id = \"r\"\nmin_judged = 1\n[[criteria]]\nid = \"g\"\ncheck = \"greeting\"\n",
        "r.toml",
    )
    .unwrap();
    assert_eq!(r.min_judged(), 1.0);
}
