//! Reader for CTranslate2 `model.bin` files (format version 6), the form in which the Whisper
//! weights we install are published.
//!
//! Written by hand because no Rust crate reads CTranslate2 models; the format is small:
//! `u32 version, str spec, u32 revision, u32 n_vars, n_vars × (str name, u8 rank, rank × u32
//! shape, u8 dtype, u32 n_bytes, data), u32 n_aliases, n_aliases × (str alias, str target)`,
//! where `str` is a u16 length followed by that many bytes (NUL-terminated), all little-endian.

use std::collections::BTreeMap;

/// Element type of a CTranslate2 variable (the numbering of CTranslate2's `DataType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ct2Dtype {
    F32,
    I8,
    I16,
    I32,
    F16,
    Bf16,
}

impl Ct2Dtype {
    fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => Ct2Dtype::F32,
            1 => Ct2Dtype::I8,
            2 => Ct2Dtype::I16,
            3 => Ct2Dtype::I32,
            4 => Ct2Dtype::F16,
            5 => Ct2Dtype::Bf16,
            _ => return None,
        })
    }

    pub fn size(self) -> usize {
        match self {
            Ct2Dtype::I8 => 1,
            Ct2Dtype::I16 | Ct2Dtype::F16 | Ct2Dtype::Bf16 => 2,
            Ct2Dtype::F32 | Ct2Dtype::I32 => 4,
        }
    }
}

/// One named variable: a tensor, or (rank 0) a configuration scalar such as `num_heads`.
#[derive(Debug, Clone, PartialEq)]
pub struct Ct2Variable {
    pub name: String,
    pub shape: Vec<usize>,
    pub dtype: Ct2Dtype,
    pub data: Vec<u8>,
}

impl Ct2Variable {
    pub fn element_count(&self) -> usize {
        self.shape.iter().product()
    }

    /// The value of a rank-0 integer variable (`num_heads`, `alignment_layer`, …).
    pub fn scalar_i64(&self) -> Option<i64> {
        if !self.shape.is_empty() {
            return None;
        }
        let d = &self.data;
        Some(match self.dtype {
            Ct2Dtype::I8 => i8::from_le_bytes([*d.first()?]) as i64,
            Ct2Dtype::I16 => i16::from_le_bytes(d.get(..2)?.try_into().ok()?) as i64,
            Ct2Dtype::I32 => i32::from_le_bytes(d.get(..4)?.try_into().ok()?) as i64,
            _ => return None,
        })
    }

    /// Elements as f32, whatever the stored float type.
    pub fn to_f32(&self) -> Option<Vec<f32>> {
        let d = &self.data;
        Some(match self.dtype {
            Ct2Dtype::F32 => d
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            Ct2Dtype::F16 => d
                .chunks_exact(2)
                .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            Ct2Dtype::Bf16 => d
                .chunks_exact(2)
                .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            _ => return None,
        })
    }
}

/// A parsed CTranslate2 model: its spec name and variables by name (aliases resolved).
#[derive(Debug, Clone, PartialEq)]
pub struct Ct2Model {
    pub version: u32,
    pub spec: String,
    pub revision: u32,
    pub variables: BTreeMap<String, Ct2Variable>,
    /// alias → target, e.g. `decoder/projection/weight` → `decoder/embeddings/weight`.
    pub aliases: BTreeMap<String, String>,
}

/// Why a `model.bin` could not be read. Offsets are byte offsets into the file.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum Ct2Error {
    #[error("file ends at byte {at} while reading {what} (truncated download?)")]
    Truncated { what: String, at: usize },
    #[error("unsupported CTranslate2 format version {0} (this reader knows version 6)")]
    Version(u32),
    #[error("variable '{name}' has unknown data type code {code}")]
    Dtype { name: String, code: u8 },
    #[error("variable '{name}': shape {shape:?} of {dtype:?} needs {expected} bytes but the file gives {actual}")]
    Size {
        name: String,
        shape: Vec<usize>,
        dtype: Ct2Dtype,
        expected: usize,
        actual: usize,
    },
    #[error("variable '{name}': shape {shape:?} is too large to be real (corrupt file?)")]
    Overflow { name: String, shape: Vec<usize> },
    #[error("name at byte {at} is not UTF-8")]
    Name { at: usize },
    #[error("{extra} bytes of unexpected data after the last alias")]
    Trailing { extra: usize },
}

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], Ct2Error> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        match end {
            Some(end) => {
                let s = &self.buf[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(Ct2Error::Truncated {
                what: what.to_owned(),
                at: self.buf.len(),
            }),
        }
    }
    fn u8(&mut self, what: &str) -> Result<u8, Ct2Error> {
        Ok(self.take(1, what)?[0])
    }
    fn u16(&mut self, what: &str) -> Result<u16, Ct2Error> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self, what: &str) -> Result<u32, Ct2Error> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn string(&mut self, what: &str) -> Result<String, Ct2Error> {
        let at = self.pos;
        let len = self.u16(what)? as usize;
        let bytes = self.take(len, what)?;
        // Strings are stored NUL-terminated; the length counts the NUL.
        let bytes = bytes.strip_suffix(&[0]).unwrap_or(bytes);
        String::from_utf8(bytes.to_vec()).map_err(|_| Ct2Error::Name { at })
    }
}

impl Ct2Model {
    /// Parses a whole `model.bin`.
    pub fn parse(buf: &[u8]) -> Result<Ct2Model, Ct2Error> {
        let mut c = Cursor { buf, pos: 0 };
        let version = c.u32("the format version")?;
        if version != 6 {
            return Err(Ct2Error::Version(version));
        }
        let spec = c.string("the spec name")?;
        let revision = c.u32("the spec revision")?;
        let count = c.u32("the variable count")?;
        let mut variables = BTreeMap::new();
        for i in 0..count {
            let name = c.string(&format!("the name of variable {i}"))?;
            let rank = c.u8(&format!("the rank of '{name}'"))?;
            let mut shape = Vec::with_capacity(rank as usize);
            for _ in 0..rank {
                shape.push(c.u32(&format!("the shape of '{name}'"))? as usize);
            }
            let code = c.u8(&format!("the data type of '{name}'"))?;
            let dtype = Ct2Dtype::from_code(code).ok_or_else(|| Ct2Error::Dtype {
                name: name.clone(),
                code,
            })?;
            let n_bytes = c.u32(&format!("the byte count of '{name}'"))? as usize;
            // Checked: a corrupt shape (rank up to 255, dimensions up to 2^32) overflows.
            let Some(expected) = shape
                .iter()
                .try_fold(dtype.size(), |acc, &d| acc.checked_mul(d))
            else {
                return Err(Ct2Error::Overflow { name, shape });
            };
            if expected != n_bytes {
                return Err(Ct2Error::Size {
                    name,
                    shape,
                    dtype,
                    expected,
                    actual: n_bytes,
                });
            }
            let data = c.take(n_bytes, &format!("the data of '{name}'"))?.to_vec();
            variables.insert(
                name.clone(),
                Ct2Variable {
                    name,
                    shape,
                    dtype,
                    data,
                },
            );
        }
        let mut aliases = BTreeMap::new();
        // Older files may stop right after the variables; an absent alias table means none.
        if c.pos < buf.len() {
            let n_aliases = c.u32("the alias count")?;
            for _ in 0..n_aliases {
                let alias = c.string("an alias name")?;
                let target = c.string(&format!("the target of alias '{alias}'"))?;
                aliases.insert(alias, target);
            }
        }
        if c.pos != buf.len() {
            return Err(Ct2Error::Trailing {
                extra: buf.len() - c.pos,
            });
        }
        Ok(Ct2Model {
            version,
            spec,
            revision,
            variables,
            aliases,
        })
    }

    /// A variable by name, following an alias if the name is one.
    pub fn get(&self, name: &str) -> Option<&Ct2Variable> {
        self.variables
            .get(name)
            .or_else(|| self.aliases.get(name).and_then(|t| self.variables.get(t)))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Serialises variables in the CTranslate2 v6 layout, for tests of the reader and converter.
    pub(crate) fn write_ct2(
        spec: &str,
        vars: &[(&str, Vec<usize>, u8, Vec<u8>)],
        aliases: &[(&str, &str)],
    ) -> Vec<u8> {
        fn s(out: &mut Vec<u8>, v: &str) {
            out.extend_from_slice(&((v.len() + 1) as u16).to_le_bytes());
            out.extend_from_slice(v.as_bytes());
            out.push(0);
        }
        let mut out = Vec::new();
        out.extend_from_slice(&6u32.to_le_bytes());
        s(&mut out, spec);
        out.extend_from_slice(&3u32.to_le_bytes());
        out.extend_from_slice(&(vars.len() as u32).to_le_bytes());
        for (name, shape, code, data) in vars {
            s(&mut out, name);
            out.push(shape.len() as u8);
            for d in shape {
                out.extend_from_slice(&(*d as u32).to_le_bytes());
            }
            out.push(*code);
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            out.extend_from_slice(data);
        }
        out.extend_from_slice(&(aliases.len() as u32).to_le_bytes());
        for (a, t) in aliases {
            s(&mut out, a);
            s(&mut out, t);
        }
        out
    }

    fn f16_bytes(v: &[f32]) -> Vec<u8> {
        v.iter()
            .flat_map(|x| half::f16::from_f32(*x).to_le_bytes())
            .collect()
    }

    #[test]
    fn parses_variables_scalars_and_aliases() {
        let buf = write_ct2(
            "WhisperSpec",
            &[
                ("decoder/num_heads", vec![], 2, 6i16.to_le_bytes().to_vec()),
                (
                    "decoder/embeddings/weight",
                    vec![2, 2],
                    4,
                    f16_bytes(&[1.0, -2.0, 0.5, 3.0]),
                ),
            ],
            &[("decoder/projection/weight", "decoder/embeddings/weight")],
        );
        let m = Ct2Model::parse(&buf).unwrap();
        assert_eq!(m.spec, "WhisperSpec");
        assert_eq!(m.revision, 3);
        assert_eq!(m.get("decoder/num_heads").unwrap().scalar_i64(), Some(6));
        let proj = m.get("decoder/projection/weight").unwrap();
        assert_eq!(proj.shape, vec![2, 2]);
        assert_eq!(proj.to_f32().unwrap(), vec![1.0, -2.0, 0.5, 3.0]);
    }

    #[test]
    fn truncated_file_names_what_was_being_read() {
        let buf = write_ct2(
            "WhisperSpec",
            &[("w", vec![4], 4, f16_bytes(&[1.0; 4]))],
            &[],
        );
        let err = Ct2Model::parse(&buf[..buf.len() - 9]).unwrap_err();
        assert!(
            matches!(&err, Ct2Error::Truncated { what, .. } if what.contains("'w'")),
            "{err}"
        );
    }

    #[test]
    fn rejects_other_versions_and_bad_sizes() {
        let mut buf = write_ct2("WhisperSpec", &[], &[]);
        buf[0] = 5;
        assert_eq!(Ct2Model::parse(&buf).unwrap_err(), Ct2Error::Version(5));

        let buf = write_ct2("WhisperSpec", &[("w", vec![3], 4, vec![0; 4])], &[]);
        assert!(matches!(
            Ct2Model::parse(&buf).unwrap_err(),
            Ct2Error::Size {
                expected: 6,
                actual: 4,
                ..
            }
        ));

        let buf = write_ct2("WhisperSpec", &[("w", vec![1], 9, vec![0; 4])], &[]);
        assert!(matches!(
            Ct2Model::parse(&buf).unwrap_err(),
            Ct2Error::Dtype { code: 9, .. }
        ));
    }

    #[test]
    fn trailing_garbage_is_an_error() {
        let mut buf = write_ct2("WhisperSpec", &[], &[]);
        buf.extend_from_slice(b"junk");
        assert_eq!(
            Ct2Model::parse(&buf).unwrap_err(),
            Ct2Error::Trailing { extra: 4 }
        );
    }
}
