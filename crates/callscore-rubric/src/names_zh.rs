//! Chinese names in speech: who a speaker says they are ("我是王芳", "我叫王小明", "我姓王",
//! "免贵姓王"), and whether the agent addresses the caller by name ("王先生", "王小明").
//!
//! Written out here because no crate answers these questions, and a segmenter would not help:
//! names are exactly the words a dictionary segmenter gets wrong. The rules:
//! - a Chinese name is a surname (one character, or a compound such as 欧阳) and one or two
//!   characters of given name; the surname must be in [`SURNAMES`], the common surnames that
//!   together cover most people (so "我是来咨询的" is not a name: 来 is not a surname here);
//! - after a cue the name runs to the first punctuation, space, non-Chinese character or
//!   function character ("我是王芳很高兴…" → 王芳): whisper often leaves Mandarin unpunctuated;
//! - 小王 / 老王 / 阿王 (an informal name from the surname) counts as a name;
//! - the agent addresses the caller by the full name, by the given name when it has two
//!   characters, or by the surname with a form of address (王先生, 王女士, 王小姐, 王总…);
//!   先生 or 女士 alone is not the name.
//!
//! All text here is already folded to simplified characters (see [`crate::text::fold_chinese`]).

use crate::text::is_ideographic;
use std::ops::Range;

/// Common Chinese surnames (simplified), about the hundred and fifty most frequent. Left out:
/// rare surnames that are everyday function words (于, 和, 来, 都, 那…), which would read
/// "我是来…" as a name.
const SURNAMES: &str = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳穆司卓古吉缪简车项连";

/// Two-character surnames, checked before the one-character ones.
const COMPOUND_SURNAMES: &[&str] = &[
    "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "夏侯", "令狐",
    "宇文", "司徒", "端木", "独孤", "南宫", "西门",
];

/// Characters that end a name after a cue: particles, pronouns and the verbs and adverbs that
/// follow a self-introduction ("我是王芳，很高兴为您服务").
const STOPS: &str = "的了很为在是有给想要这那就也都和跟从啊呀呢吧嘛哦噢请您你我他她们个不没打问说";

/// Forms of address that follow a surname.
const ADDRESS_FORMS: &[&str] = &[
    "先生", "女士", "小姐", "老师", "总", "经理", "阿姨", "师傅", "同学", "太太", "大哥", "大姐",
];

/// A Chinese name: surname and, when known, the given name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ZhName {
    pub surname: String,
    pub given: Option<String>,
}

fn surname_len(chars: &[char]) -> Option<usize> {
    let two: String = chars.iter().take(2).collect();
    if chars.len() >= 2 && COMPOUND_SURNAMES.contains(&two.as_str()) {
        return Some(2);
    }
    chars
        .first()
        .is_some_and(|c| SURNAMES.contains(*c))
        .then_some(1)
}

impl ZhName {
    /// From metadata such as "王小明" or "欧阳娜娜" (a surname alone, "王", is allowed).
    pub fn parse(full: &str) -> Option<ZhName> {
        let folded = crate::text::fold_chinese(full).unwrap_or_else(|| full.to_string());
        let chars: Vec<char> = folded.chars().filter(|c| !c.is_whitespace()).collect();
        if chars.is_empty() || chars.len() > 4 || !chars.iter().all(|&c| is_ideographic(c)) {
            return None;
        }
        let n = surname_len(&chars).unwrap_or(1);
        let given: String = chars[n..].iter().collect();
        Some(ZhName {
            surname: chars[..n].iter().collect(),
            given: (!given.is_empty()).then_some(given),
        })
    }

    pub fn full(&self) -> String {
        format!("{}{}", self.surname, self.given.as_deref().unwrap_or(""))
    }

    /// "'王小明' or '王先生/女士'"
    pub fn either(&self) -> String {
        match &self.given {
            Some(_) => format!("'{}' or '{}先生/女士'", self.full(), self.surname),
            None => format!("'{}先生/女士'", self.surname),
        }
    }
}

/// The name that starts at byte `at` of `text`: a known name (`expected`, from metadata) if the
/// text says it there, else a surname and up to two more characters, up to a stop. Returns the
/// name and its byte range.
pub(crate) fn name_at(
    text: &str,
    at: usize,
    expected: Option<&ZhName>,
) -> Option<(ZhName, Range<usize>)> {
    let rest = &text[at..];
    // The expected name as a whole (the surname alone could begin someone else's name).
    if let Some(e) = expected.filter(|e| e.given.is_some()) {
        let full = e.full();
        if rest.starts_with(&full) {
            return Some((e.clone(), at..at + full.len()));
        }
    }
    let mut chars: Vec<(usize, char)> = Vec::new();
    for (i, c) in rest.char_indices() {
        if !is_ideographic(c) || (!chars.is_empty() && STOPS.contains(c)) || chars.len() == 4 {
            break;
        }
        chars.push((i, c));
    }
    let cs: Vec<char> = chars.iter().map(|&(_, c)| c).collect();
    // 小王, 老王, 阿王: the informal name made from a surname.
    if cs.len() >= 2 && matches!(cs[0], '小' | '老' | '阿') && SURNAMES.contains(cs[1]) {
        let end = chars[1].0 + cs[1].len_utf8();
        return Some((
            ZhName {
                surname: cs[1].to_string(),
                given: None,
            },
            at..at + end,
        ));
    }
    let n = surname_len(&cs)?;
    let after_surname = chars.get(n).map_or(rest.len(), |&(i, _)| i);
    if ADDRESS_FORMS
        .iter()
        .any(|f| rest[after_surname..].starts_with(f))
    {
        // "我是王先生": the surname and a form of address.
        return Some((
            ZhName {
                surname: cs[..n].iter().collect(),
                given: None,
            },
            at..at + after_surname,
        ));
    }
    // A given name of one or two characters; a third would be the next word more often than
    // part of the name (four-character names are nearly always compound surnames).
    let given_len = (cs.len() - n).min(2);
    if given_len == 0 {
        return None;
    }
    let last = chars[n + given_len - 1];
    Some((
        ZhName {
            surname: cs[..n].iter().collect(),
            given: Some(cs[n..n + given_len].iter().collect()),
        },
        at..at + last.0 + last.1.len_utf8(),
    ))
}

/// A surname (and nothing else) at byte `at`: for "我姓王" / "免贵姓欧阳".
pub(crate) fn surname_at(text: &str, at: usize) -> Option<(ZhName, Range<usize>)> {
    let cs: Vec<char> = text[at..].chars().take(2).collect();
    let n = surname_len(&cs)?;
    let len: usize = cs[..n].iter().map(|c| c.len_utf8()).sum();
    Some((
        ZhName {
            surname: cs[..n].iter().collect(),
            given: None,
        },
        at..at + len,
    ))
}

/// What may stand between a cue and the name: a role and a job number ("客服", "客服代表",
/// "工号1024的", "3号客服").
const ROLE_ZH: &str = r"(?:您的|这边的|这里的)?(?:(?:专属|在线)?(?:客服|顾问|客户经理|经理|专员|代表|坐席|话务员)(?:代表|专员|人员)?)?\s*(?:工号\s*\d+\s*号?\s*的?)?\s*(?:\d+\s*号\s*(?:客服|话务员)?)?\s*";

/// Cues of a self-introduction, each with the role after it, so that the name starts where a
/// match ends: "我是(客服)王芳", "我叫王芳", and "我是长江银行的(客服)王芳" (the shortest run of
/// characters before 的 is the organisation).
pub(crate) fn intro_cues_zh() -> Vec<String> {
    vec![
        format!(
            r"(?:我是|我叫|我的名字是|我的名字叫|我的姓名是|我的全名是|本人是|我这边是){ROLE_ZH}"
        ),
        format!(r"(?:我是|这里是|这边是)\p{{Han}}{{2,12}}?的{ROLE_ZH}"),
    ]
}

/// "我姓王", "免贵姓王", "姓王": the surname follows.
pub(crate) const SURNAME_CUES_ZH: &str = r"(?:免贵|我)?姓\s*";

/// An agent who identifies by job number rather than name ("工号1024为您服务", "3号客服为您服务"),
/// as many Chinese service lines do.
pub(crate) const JOB_NUMBER_ZH: &str = r"(工号\s*\d+\s*号?|\d+\s*号\s*(?:客服|话务员|坐席))";

/// Where `text` addresses `name`: the full name, a two-character given name, or the surname
/// with a form of address.
pub(crate) fn addresses(text: &str, name: &ZhName) -> Vec<Range<usize>> {
    let mut forms: Vec<String> = Vec::new();
    if name.given.is_some() {
        forms.push(name.full());
    }
    if let Some(g) = name.given.as_ref().filter(|g| g.chars().count() >= 2) {
        forms.push(g.clone());
    }
    forms.extend(ADDRESS_FORMS.iter().map(|f| format!("{}{f}", name.surname)));
    let mut out: Vec<Range<usize>> = forms
        .iter()
        .flat_map(|f| text.match_indices(f.as_str()).map(|(i, m)| i..i + m.len()))
        .collect();
    out.sort_by_key(|r| (r.start, std::cmp::Reverse(r.end)));
    // "王小明" holds "小明": count each place once.
    out.dedup_by(|b, a| b.start < a.end);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> Option<String> {
        name_at(text, 0, None).map(|(n, r)| {
            assert_eq!(&text[r], n.full());
            n.full()
        })
    }

    #[test]
    fn names_run_to_a_stop() {
        assert_eq!(name("王芳，很高兴为您服务"), Some("王芳".into()));
        assert_eq!(name("王芳很高兴为您服务"), Some("王芳".into()));
        assert_eq!(name("王小明想查一下账单"), Some("王小明".into()));
        assert_eq!(name("欧阳娜娜"), Some("欧阳娜娜".into()));
        assert_eq!(name("来咨询的"), None, "来 is not a surname here");
        assert_eq!(name("想问一下"), None);
        assert_eq!(name("客户"), None);
        assert_eq!(name("王先生"), Some("王".into()));
        // A known name is taken whole; the same surname with another given name is that name.
        let known = ZhName::parse("王芳").unwrap();
        assert_eq!(name_at("王芳很高兴", 0, Some(&known)).unwrap().0, known);
        assert_eq!(
            name_at("王昌，请问", 0, Some(&known)).unwrap().0.full(),
            "王昌"
        );
        let (n, r) = name_at("小王为您服务", 0, None).unwrap();
        assert_eq!((n.surname.as_str(), &"小王为您服务"[r]), ("王", "小王"));
    }

    #[test]
    fn metadata_names_parse_and_are_addressed_politely() {
        let n = ZhName::parse("王小明").unwrap();
        assert_eq!(
            (n.surname.as_str(), n.given.as_deref()),
            ("王", Some("小明"))
        );
        assert_eq!(ZhName::parse("歐陽娜娜").unwrap().surname, "欧阳");
        assert!(ZhName::parse("Priya Raman").is_none());
        let t = "好的王先生，小明您好，王小明先生";
        let found: Vec<&str> = addresses(t, &n).into_iter().map(|r| &t[r]).collect();
        assert_eq!(found, vec!["王先生", "小明", "王小明"]);
        assert!(
            addresses("先生您好", &n).is_empty(),
            "先生 alone is not the name"
        );
        let surname_only = ZhName {
            surname: "王".into(),
            given: None,
        };
        assert!(addresses("王府井那边", &surname_only).is_empty());
    }
}
