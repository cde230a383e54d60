//! Reads the tensors of a PyTorch checkpoint in the legacy (pre-1.6, non-zip) format, the one
//! the speaker encoder's `pretrained.pt` is stored in.
//!
//! That format is five pickles back to back — a magic number, the protocol version (1001), system
//! information, the saved object, the list of storage keys — followed by each storage's raw
//! little-endian data, in the order of that list, each behind an 8-byte element count. Tensors in
//! the object are `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, …)` calls whose
//! storage is a persistent id `('storage', torch.FloatStorage, key, location, numel, view)`.
//!
//! Hand-written: serde-pickle rejects persistent ids (every tensor is one), and the crates that
//! read PyTorch files (candle, tch) read only the zip format or need libtorch. This is the small
//! part of the pickle machine such a checkpoint uses, evaluating nothing: globals are names, calls
//! are records, and only tensors and dictionaries are interpreted.

use std::collections::HashMap;

/// A pickled value, as far as a checkpoint needs one.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Tuple(Vec<Value>),
    List(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    Global(String, String),
    /// A call whose meaning is not needed (kept so the stack stays right).
    Call(Box<Value>, Vec<Value>),
    Persistent(Box<Value>),
    Tensor(TensorRef),
    Mark,
}

/// Where a tensor's data is: a storage, an element offset into it, its shape and strides.
#[derive(Debug, Clone, PartialEq)]
struct TensorRef {
    storage: String,
    dtype: String,
    offset: usize,
    shape: Vec<usize>,
    stride: Vec<usize>,
}

/// A float tensor read from a checkpoint, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TorchError {
    #[error("not a PyTorch checkpoint in the legacy format: {0}")]
    Format(String),
    #[error("pickle opcode 0x{op:02x} at byte {at} is not supported")]
    Opcode { op: u8, at: usize },
    #[error("the checkpoint ends inside a pickle (byte {0})")]
    Truncated(usize),
    #[error("tensor `{name}`: {reason}")]
    Tensor { name: String, reason: String },
    #[error("no tensor `{0}` in the checkpoint")]
    Missing(String),
}

/// The legacy format's magic number, the first pickle of the file.
const MAGIC: i64 = 0x1950_a86a_20f9_469c_fc6c_i128 as i64;

/// The float tensors of a checkpoint's state dict, by name. `state_key` picks the dictionary
/// inside the saved object that holds them (`model_state` for the speaker encoder), or the saved
/// object itself when it is `None`.
pub fn read_state_dict(
    bytes: &[u8],
    state_key: Option<&str>,
) -> Result<HashMap<String, Tensor>, TorchError> {
    let mut pos = 0;
    let magic = Machine::run(bytes, &mut pos)?;
    // The magic is a 10-byte LONG1; its low 64 bits identify the format.
    if magic != Value::Int(MAGIC) {
        return Err(TorchError::Format("wrong magic number".into()));
    }
    let protocol = Machine::run(bytes, &mut pos)?;
    if protocol != Value::Int(1001) {
        return Err(TorchError::Format(format!(
            "protocol {protocol:?}, expected 1001"
        )));
    }
    let _sys_info = Machine::run(bytes, &mut pos)?;
    let object = Machine::run(bytes, &mut pos)?;
    let keys = match Machine::run(bytes, &mut pos)? {
        Value::List(k) => k,
        other => return Err(TorchError::Format(format!("storage keys: {other:?}"))),
    };
    // Each storage: u64 element count, then the elements (4-byte floats here).
    let mut storages: HashMap<String, (usize, usize)> = HashMap::new();
    for key in keys {
        let Value::Str(key) = key else {
            return Err(TorchError::Format("a storage key is not a string".into()));
        };
        let count = bytes.get(pos..pos + 8).ok_or(TorchError::Truncated(pos))?;
        let n = u64::from_le_bytes(count.try_into().unwrap_or([0; 8])) as usize;
        let start = pos + 8;
        let end = start
            .checked_add(n.checked_mul(4).ok_or(TorchError::Truncated(pos))?)
            .ok_or(TorchError::Truncated(pos))?;
        if end > bytes.len() {
            return Err(TorchError::Truncated(bytes.len()));
        }
        storages.insert(key, (start, n));
        pos = end;
    }

    let state = match state_key {
        None => object,
        Some(k) => dict_get(&object, k)
            .cloned()
            .ok_or_else(|| TorchError::Format(format!("no `{k}` in the checkpoint")))?,
    };
    let Value::Dict(items) = state else {
        return Err(TorchError::Format("the state is not a dictionary".into()));
    };
    let mut out = HashMap::new();
    for (name, value) in items {
        let (Value::Str(name), Value::Tensor(t)) = (name, value) else {
            continue;
        };
        let bad = |reason: String| TorchError::Tensor {
            name: name.clone(),
            reason,
        };
        if t.dtype != "FloatStorage" {
            return Err(bad(format!("{} is not float32", t.dtype)));
        }
        let &(start, len) = storages
            .get(&t.storage)
            .ok_or_else(|| bad(format!("storage {} is missing", t.storage)))?;
        let numel: usize = t.shape.iter().product();
        // Row-major strides only: that is what torch.save writes for parameters.
        let mut expect = 1;
        for (d, &s) in t.shape.iter().zip(&t.stride).rev() {
            if s != expect && *d > 1 {
                return Err(bad("not contiguous".into()));
            }
            expect *= d;
        }
        if t.offset + numel > len {
            return Err(bad(format!(
                "offset {} + {numel} elements overrun its storage of {len}",
                t.offset
            )));
        }
        let from = start + 4 * t.offset;
        let data = bytes[from..from + 4 * numel]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        out.insert(
            name,
            Tensor {
                shape: t.shape,
                data,
            },
        );
    }
    Ok(out)
}

fn dict_get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    match v {
        Value::Dict(items) => items
            .iter()
            .find(|(k, _)| matches!(k, Value::Str(s) if s == key))
            .map(|(_, v)| v),
        _ => None,
    }
}

/// The pickle machine: a stack, a memo, and the opcodes of protocol 2 that checkpoints use.
struct Machine<'a> {
    bytes: &'a [u8],
    pos: usize,
    stack: Vec<Value>,
    memo: HashMap<u32, Value>,
}

impl<'a> Machine<'a> {
    /// Runs one pickle from `*pos` to its STOP, leaving `*pos` just after it.
    fn run(bytes: &'a [u8], pos: &mut usize) -> Result<Value, TorchError> {
        let mut m = Machine {
            bytes,
            pos: *pos,
            stack: Vec::new(),
            memo: HashMap::new(),
        };
        let v = m.exec()?;
        *pos = m.pos;
        Ok(v)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], TorchError> {
        let s = self
            .bytes
            .get(self.pos..self.pos + n)
            .ok_or(TorchError::Truncated(self.pos))?;
        self.pos += n;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, TorchError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, TorchError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, TorchError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn pop(&mut self) -> Result<Value, TorchError> {
        self.stack
            .pop()
            .ok_or_else(|| TorchError::Format(format!("stack underflow at byte {}", self.pos)))
    }

    /// Everything above the topmost MARK, which is removed.
    fn pop_mark(&mut self) -> Result<Vec<Value>, TorchError> {
        let at = self
            .stack
            .iter()
            .rposition(|v| *v == Value::Mark)
            .ok_or_else(|| TorchError::Format(format!("no MARK before byte {}", self.pos)))?;
        let items = self.stack.split_off(at + 1);
        self.stack.pop();
        Ok(items)
    }

    fn line(&mut self) -> Result<String, TorchError> {
        let rest = &self.bytes[self.pos.min(self.bytes.len())..];
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or(TorchError::Truncated(self.bytes.len()))?;
        let s = String::from_utf8_lossy(&rest[..end]).into_owned();
        self.pos += end + 1;
        Ok(s)
    }

    fn exec(&mut self) -> Result<Value, TorchError> {
        loop {
            let at = self.pos;
            let op = self.u8()?;
            match op {
                0x80 => {
                    self.u8()?; // PROTO n
                }
                b'.' => return self.pop(), // STOP
                b'}' => self.stack.push(Value::Dict(Vec::new())),
                b']' => self.stack.push(Value::List(Vec::new())),
                b')' => self.stack.push(Value::Tuple(Vec::new())),
                b'(' => self.stack.push(Value::Mark),
                b'N' => self.stack.push(Value::None),
                0x88 => self.stack.push(Value::Bool(true)),
                0x89 => self.stack.push(Value::Bool(false)),
                b'K' => {
                    let v = self.u8()? as i64;
                    self.stack.push(Value::Int(v));
                }
                b'M' => {
                    let v = self.u16()? as i64;
                    self.stack.push(Value::Int(v));
                }
                b'J' => {
                    let v = self.u32()? as i32 as i64;
                    self.stack.push(Value::Int(v));
                }
                0x8a => {
                    // LONG1: n bytes of little-endian two's complement; the low 64 bits are kept.
                    let n = self.u8()? as usize;
                    let b = self.take(n)?;
                    let mut v: i64 = 0;
                    for (i, &byte) in b.iter().take(8).enumerate() {
                        v |= (byte as i64) << (8 * i);
                    }
                    if n > 0 && n < 8 && b[n - 1] & 0x80 != 0 {
                        v -= 1i64 << (8 * n);
                    }
                    self.stack.push(Value::Int(v));
                }
                b'G' => {
                    let b = self.take(8)?;
                    let v = f64::from_be_bytes(b.try_into().unwrap_or([0; 8]));
                    self.stack.push(Value::Float(v));
                }
                b'X' => {
                    let n = self.u32()? as usize;
                    let s = String::from_utf8_lossy(self.take(n)?).into_owned();
                    self.stack.push(Value::Str(s));
                }
                0x8c => {
                    let n = self.u8()? as usize;
                    let s = String::from_utf8_lossy(self.take(n)?).into_owned();
                    self.stack.push(Value::Str(s));
                }
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    self.stack.push(Value::Global(module, name));
                }
                b'q' => {
                    let k = self.u8()? as u32;
                    let v = self
                        .stack
                        .last()
                        .cloned()
                        .ok_or(TorchError::Truncated(at))?;
                    self.memo.insert(k, v);
                }
                b'r' => {
                    let k = self.u32()?;
                    let v = self
                        .stack
                        .last()
                        .cloned()
                        .ok_or(TorchError::Truncated(at))?;
                    self.memo.insert(k, v);
                }
                b'h' | b'j' => {
                    let k = if op == b'h' {
                        self.u8()? as u32
                    } else {
                        self.u32()?
                    };
                    let v = self.memo.get(&k).cloned().ok_or_else(|| {
                        TorchError::Format(format!("memo {k} unset at byte {at}"))
                    })?;
                    self.stack.push(v);
                }
                b't' => {
                    let items = self.pop_mark()?;
                    self.stack.push(Value::Tuple(items));
                }
                0x85..=0x87 => {
                    let n = (op - 0x84) as usize;
                    if self.stack.len() < n {
                        return Err(TorchError::Format(format!("stack underflow at byte {at}")));
                    }
                    let items = self.stack.split_off(self.stack.len() - n);
                    self.stack.push(Value::Tuple(items));
                }
                b'a' => {
                    let v = self.pop()?;
                    if let Some(Value::List(l)) = self.stack.last_mut() {
                        l.push(v);
                    }
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    if let Some(Value::List(l)) = self.stack.last_mut() {
                        l.extend(items);
                    }
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    if let Some(Value::Dict(d)) = self.stack.last_mut() {
                        d.push((k, v));
                    }
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    if let Some(Value::Dict(d)) = self.stack.last_mut() {
                        let mut it = items.into_iter();
                        while let (Some(k), Some(v)) = (it.next(), it.next()) {
                            d.push((k, v));
                        }
                    }
                }
                b'Q' => {
                    let pid = self.pop()?;
                    self.stack.push(Value::Persistent(Box::new(pid)));
                }
                b'R' => {
                    let args = match self.pop()? {
                        Value::Tuple(a) => a,
                        other => vec![other],
                    };
                    let func = self.pop()?;
                    self.stack.push(reduce(func, args));
                }
                b'b' => {
                    // BUILD: the object's state is not needed.
                    self.pop()?;
                }
                _ => return Err(TorchError::Opcode { op, at }),
            }
        }
    }
}

/// The meaning of the calls a checkpoint makes: an empty OrderedDict is a dictionary, and
/// `_rebuild_tensor_v2` is a tensor. Anything else stays an opaque call.
fn reduce(func: Value, args: Vec<Value>) -> Value {
    match &func {
        Value::Global(m, n) if m == "collections" && n == "OrderedDict" => Value::Dict(Vec::new()),
        Value::Global(m, n) if m == "torch._utils" && n == "_rebuild_tensor_v2" => {
            tensor_ref(&args).unwrap_or(Value::Call(Box::new(func), args))
        }
        _ => Value::Call(Box::new(func), args),
    }
}

fn tensor_ref(args: &[Value]) -> Option<Value> {
    let Value::Persistent(pid) = args.first()? else {
        return None;
    };
    let Value::Tuple(pid) = pid.as_ref() else {
        return None;
    };
    let (Some(Value::Global(_, dtype)), Some(Value::Str(key))) = (pid.get(1), pid.get(2)) else {
        return None;
    };
    let ints = |v: &Value| -> Option<Vec<usize>> {
        match v {
            Value::Tuple(t) => t
                .iter()
                .map(|x| match x {
                    Value::Int(i) if *i >= 0 => Some(*i as usize),
                    _ => None,
                })
                .collect(),
            _ => None,
        }
    };
    let Value::Int(offset) = args.get(1)? else {
        return None;
    };
    Some(Value::Tensor(TensorRef {
        storage: key.clone(),
        dtype: dtype.clone(),
        offset: usize::try_from(*offset).ok()?,
        shape: ints(args.get(2)?)?,
        stride: ints(args.get(3)?)?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-assembled legacy checkpoint holding `{"w": tensor([[1,2],[3,4]]), "b": tensor([5])}`
    /// inside `{"model_state": …}`, both views of one storage (offset 4 for `b`).
    fn checkpoint() -> Vec<u8> {
        let mut p = Vec::new();
        // magic: LONG1 of 10 bytes
        p.extend([0x80, 2, 0x8a, 10]);
        p.extend(0x1950_a86a_20f9_469c_fc6c_u128.to_le_bytes()[..10].iter());
        p.push(b'.');
        p.extend([0x80, 2, b'M', 0xe9, 0x03, b'.']); // 1001
        p.extend([0x80, 2, b'}', b'.']); // sys info
                                         // the object
        p.extend([0x80, 2, b'}', b'q', 0, b'X']);
        p.extend(11u32.to_le_bytes());
        p.extend(b"model_state");
        p.extend(b"ccollections\nOrderedDict\n");
        p.extend([b')', b'R', b'q', 1, b'(']);
        let tensor = |p: &mut Vec<u8>, name: &str, offset: u8, shape: &[u8], stride: &[u8]| {
            p.push(b'X');
            p.extend((name.len() as u32).to_le_bytes());
            p.extend(name.as_bytes());
            p.extend(b"ctorch._utils\n_rebuild_tensor_v2\n");
            p.extend([b'(', b'(', b'X']);
            p.extend(7u32.to_le_bytes());
            p.extend(b"storage");
            p.extend(b"ctorch\nFloatStorage\n");
            p.push(b'X');
            p.extend(1u32.to_le_bytes());
            p.push(b'0');
            p.push(b'X');
            p.extend(3u32.to_le_bytes());
            p.extend(b"cpu");
            p.extend([b'K', 5, b'N', b't', b'Q', b'K', offset, b'(']);
            for &d in shape {
                p.extend([b'K', d]);
            }
            p.extend([b't', b'(']);
            for &s in stride {
                p.extend([b'K', s]);
            }
            p.extend([b't', 0x89, b'N', b't', b'R']);
        };
        tensor(&mut p, "w", 0, &[2, 2], &[2, 1]);
        tensor(&mut p, "b", 4, &[1], &[1]);
        p.extend([b'u', b's', b'.']);
        // storage keys
        p.extend([0x80, 2, b']', b'(', b'X']);
        p.extend(1u32.to_le_bytes());
        p.push(b'0');
        p.extend([b'e', b'.']);
        p.extend(5u64.to_le_bytes());
        for x in [1f32, 2.0, 3.0, 4.0, 5.0] {
            p.extend(x.to_le_bytes());
        }
        p
    }

    #[test]
    fn reads_tensors_from_a_legacy_checkpoint() {
        let t = read_state_dict(&checkpoint(), Some("model_state")).unwrap();
        assert_eq!(t["w"].shape, vec![2, 2]);
        assert_eq!(t["w"].data, vec![1.0, 2.0, 3.0, 4.0]);
        assert_eq!(t["b"].data, vec![5.0]);
    }

    #[test]
    fn damaged_checkpoints_are_refused_with_the_reason() {
        let good = checkpoint();
        let short = &good[..good.len() - 3];
        assert_eq!(
            read_state_dict(short, Some("model_state")).unwrap_err(),
            TorchError::Truncated(good.len() - 3)
        );
        let mut bad_magic = good.clone();
        bad_magic[5] ^= 1;
        assert!(matches!(
            read_state_dict(&bad_magic, None),
            Err(TorchError::Format(_))
        ));
        assert!(matches!(
            read_state_dict(b"PK\x03\x04 a zip", None),
            Err(TorchError::Opcode { op: b'P', at: 0 })
        ));
        assert!(matches!(
            read_state_dict(&good, Some("weights")),
            Err(TorchError::Format(m)) if m.contains("weights")
        ));
    }
}
