//! Reader for CTranslate2's `model.bin` (binary version 6): an index of named variables with
//! their shapes, dtypes and file offsets, so tensors are read one at a time.
//!
//! Hand-written because CTranslate2 has no Rust reader. Layout, all little-endian: version
//! u32, spec name (u16 length incl. NUL, bytes), spec revision u32, variable count u32; per
//! variable: name (u16 length incl. NUL, bytes), rank u8, dims u32 × rank, dtype u8, byte
//! count u32, data; then alias count u32 and (alias, target) name pairs.

use std::io::{Read, Seek, SeekFrom};

use super::Ct2Error;

/// The only binary version this reader understands.
pub const BINARY_VERSION: u32 = 6;
/// Bounds for an untrusted index: a Whisper large model has fewer than 1000 variables.
const MAX_VARIABLES: u32 = 100_000;
const MAX_RANK: u8 = 8;
const MAX_ALIASES: u32 = 100_000;

/// CTranslate2 element types (its `DataType` enum order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    F32,
    I8,
    I16,
    I32,
    F16,
    Bf16,
}

impl Dtype {
    fn from_id(id: u8) -> Option<Self> {
        Some(match id {
            0 => Self::F32,
            1 => Self::I8,
            2 => Self::I16,
            3 => Self::I32,
            4 => Self::F16,
            5 => Self::Bf16,
            _ => return None,
        })
    }

    pub fn id(self) -> u8 {
        self as u8
    }

    pub fn size(self) -> u64 {
        match self {
            Self::I8 => 1,
            Self::I16 | Self::F16 | Self::Bf16 => 2,
            Self::F32 | Self::I32 => 4,
        }
    }
}

/// One variable: where its bytes are in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    pub name: String,
    pub dims: Vec<u32>,
    pub dtype: Dtype,
    pub offset: u64,
    pub len: u64,
}

impl Variable {
    /// `None` when the dimensions multiply past `u64` (a corrupt header).
    pub fn elements(&self) -> Option<u64> {
        self.dims
            .iter()
            .try_fold(1u64, |n, &d| n.checked_mul(u64::from(d)))
    }
}

/// The header and variable index of a `model.bin`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Index {
    pub spec_name: String,
    pub spec_revision: u32,
    pub variables: Vec<Variable>,
    pub aliases: Vec<(String, String)>,
}

impl Index {
    pub fn get(&self, name: &str) -> Option<&Variable> {
        self.variables.iter().find(|v| v.name == name)
    }

    /// Reads the index, seeking past tensor data; checks every variable lies inside the file.
    pub fn read<R: Read + Seek>(reader: &mut R) -> Result<Self, Ct2Error> {
        let file_len = reader.seek(SeekFrom::End(0)).map_err(io)?;
        reader.seek(SeekFrom::Start(0)).map_err(io)?;
        let version = read_u32(reader)?;
        if version != BINARY_VERSION {
            return Err(Ct2Error::UnsupportedVersion(version));
        }
        let spec_name = read_name(reader)?;
        let spec_revision = read_u32(reader)?;
        let count = read_u32(reader)?;
        if count > MAX_VARIABLES {
            return Err(malformed(format!("{count} variables")));
        }
        let mut variables = Vec::new();
        for _ in 0..count {
            let name = read_name(reader)?;
            let rank = read_u8(reader)?;
            if rank > MAX_RANK {
                return Err(malformed(format!("{name}: rank {rank}")));
            }
            let dims = (0..rank)
                .map(|_| read_u32(reader))
                .collect::<Result<Vec<_>, _>>()?;
            let dtype_id = read_u8(reader)?;
            let dtype = Dtype::from_id(dtype_id)
                .ok_or_else(|| malformed(format!("{name}: dtype id {dtype_id}")))?;
            let len = u64::from(read_u32(reader)?);
            let offset = reader.stream_position().map_err(io)?;
            let variable = Variable {
                name,
                dims,
                dtype,
                offset,
                len,
            };
            let expected = variable
                .elements()
                .and_then(|n| n.checked_mul(dtype.size()));
            if expected != Some(len) {
                return Err(malformed(format!(
                    "{}: {len} bytes for shape {:?} of {dtype:?}",
                    variable.name, variable.dims
                )));
            }
            if offset.checked_add(len).is_none_or(|end| end > file_len) {
                return Err(malformed(format!(
                    "{}: data past end of file",
                    variable.name
                )));
            }
            reader.seek(SeekFrom::Current(len as i64)).map_err(io)?;
            variables.push(variable);
        }
        let alias_count = read_u32(reader)?;
        if alias_count > MAX_ALIASES {
            return Err(malformed(format!("{alias_count} aliases")));
        }
        let aliases = (0..alias_count)
            .map(|_| Ok((read_name(reader)?, read_name(reader)?)))
            .collect::<Result<Vec<_>, Ct2Error>>()?;
        Ok(Self {
            spec_name,
            spec_revision,
            variables,
            aliases,
        })
    }

    /// The raw bytes of `variable`, from byte `start` for `len` bytes (both within it).
    pub fn read_bytes<R: Read + Seek>(
        reader: &mut R,
        variable: &Variable,
        start: u64,
        len: u64,
    ) -> Result<Vec<u8>, Ct2Error> {
        if start.checked_add(len).is_none_or(|end| end > variable.len) {
            return Err(malformed(format!("{}: slice out of range", variable.name)));
        }
        let size = usize::try_from(len).map_err(|_| malformed("tensor too large".into()))?;
        reader
            .seek(SeekFrom::Start(variable.offset + start))
            .map_err(io)?;
        let mut bytes = vec![0u8; size];
        reader.read_exact(&mut bytes).map_err(io)?;
        Ok(bytes)
    }

    /// A scalar integer variable (CTranslate2 stores head counts this way).
    pub fn read_scalar<R: Read + Seek>(&self, reader: &mut R, name: &str) -> Result<i64, Ct2Error> {
        let variable = self
            .get(name)
            .ok_or_else(|| Ct2Error::MissingVariable(name.to_owned()))?;
        let bytes = Self::read_bytes(reader, variable, 0, variable.len)?;
        let value = match (variable.dtype, bytes.as_slice()) {
            (Dtype::I8, &[b]) => i64::from(b as i8),
            (Dtype::I16, &[a, b]) => i64::from(i16::from_le_bytes([a, b])),
            (Dtype::I32, &[a, b, c, d]) => i64::from(i32::from_le_bytes([a, b, c, d])),
            _ => return Err(malformed(format!("{name}: not an integer scalar"))),
        };
        Ok(value)
    }
}

fn io(e: std::io::Error) -> Ct2Error {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        malformed("truncated".into())
    } else {
        Ct2Error::Io {
            what: "model.bin".into(),
            source: e,
        }
    }
}

fn malformed(reason: String) -> Ct2Error {
    Ct2Error::Malformed(reason)
}

fn read_u8<R: Read>(reader: &mut R) -> Result<u8, Ct2Error> {
    let mut buf = [0u8; 1];
    reader.read_exact(&mut buf).map_err(io)?;
    Ok(buf[0])
}

fn read_u32<R: Read>(reader: &mut R) -> Result<u32, Ct2Error> {
    let mut buf = [0u8; 4];
    reader.read_exact(&mut buf).map_err(io)?;
    Ok(u32::from_le_bytes(buf))
}

/// A u16-length-prefixed, NUL-terminated UTF-8 name.
fn read_name<R: Read>(reader: &mut R) -> Result<String, Ct2Error> {
    let mut len = [0u8; 2];
    reader.read_exact(&mut len).map_err(io)?;
    let mut bytes = vec![0u8; usize::from(u16::from_le_bytes(len))];
    reader.read_exact(&mut bytes).map_err(io)?;
    if bytes.pop() != Some(0) {
        return Err(malformed("name without NUL terminator".into()));
    }
    String::from_utf8(bytes).map_err(|_| malformed("name is not UTF-8".into()))
}

/// Serialises a spec the way CTranslate2 does; tests build small model files with it.
#[cfg(test)]
pub fn write_model(
    spec_name: &str,
    variables: &[(&str, &[u32], Dtype, &[u8])],
    aliases: &[(&str, &str)],
) -> Vec<u8> {
    fn name(out: &mut Vec<u8>, s: &str) {
        out.extend_from_slice(&(s.len() as u16 + 1).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
        out.push(0);
    }
    let mut out = BINARY_VERSION.to_le_bytes().to_vec();
    name(&mut out, spec_name);
    out.extend_from_slice(&3u32.to_le_bytes());
    out.extend_from_slice(&(variables.len() as u32).to_le_bytes());
    for (var, dims, dtype, data) in variables {
        name(&mut out, var);
        out.push(dims.len() as u8);
        for d in *dims {
            out.extend_from_slice(&d.to_le_bytes());
        }
        out.push(dtype.id());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(data);
    }
    out.extend_from_slice(&(aliases.len() as u32).to_le_bytes());
    for (alias, target) in aliases {
        name(&mut out, alias);
        name(&mut out, target);
    }
    out
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use proptest::prelude::*;

    use super::*;

    fn sample() -> Vec<u8> {
        write_model(
            "WhisperSpec",
            &[
                ("decoder/num_heads", &[], Dtype::I16, &6i16.to_le_bytes()),
                (
                    "w",
                    &[2, 3],
                    Dtype::F16,
                    &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
                ),
                ("b", &[1], Dtype::F32, &1.5f32.to_le_bytes()),
            ],
            &[("decoder/projection/weight", "w")],
        )
    }

    #[test]
    fn round_trip_of_a_synthetic_spec() {
        let mut file = Cursor::new(sample());
        let index = Index::read(&mut file).unwrap();
        assert_eq!(index.spec_name, "WhisperSpec");
        assert_eq!(index.spec_revision, 3);
        let names: Vec<_> = index.variables.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["decoder/num_heads", "w", "b"]);
        let w = index.get("w").unwrap();
        assert_eq!(
            (w.dims.as_slice(), w.dtype, w.len),
            (&[2, 3][..], Dtype::F16, 12)
        );
        assert_eq!(
            Index::read_bytes(&mut file, w, 6, 6).unwrap(),
            [7, 8, 9, 10, 11, 12]
        );
        assert!(Index::read_bytes(&mut file, w, 6, 7).is_err());
        assert_eq!(
            index.read_scalar(&mut file, "decoder/num_heads").unwrap(),
            6
        );
        assert!(index.read_scalar(&mut file, "w").is_err());
        assert_eq!(
            index.aliases,
            [("decoder/projection/weight".to_owned(), "w".to_owned())]
        );
    }

    #[test]
    fn rejects_bad_headers() {
        let good = sample();
        let mut wrong_version = good.clone();
        wrong_version[0] = 5;
        assert!(matches!(
            Index::read(&mut Cursor::new(wrong_version)),
            Err(Ct2Error::UnsupportedVersion(5))
        ));
        for cut in [3, 10, 40, good.len() - 1] {
            let result = Index::read(&mut Cursor::new(good[..cut].to_vec()));
            assert!(matches!(result, Err(Ct2Error::Malformed(_))), "cut {cut}");
        }
        let lying_size = write_model("S", &[("x", &[4], Dtype::F32, &[0; 8])], &[]);
        assert!(Index::read(&mut Cursor::new(lying_size)).is_err());
        let huge = [u32::MAX; 8];
        let overflowing = write_model("S", &[("x", &huge, Dtype::F32, &[])], &[]);
        assert!(Index::read(&mut Cursor::new(overflowing)).is_err());
    }

    proptest! {
        #[test]
        fn never_panics_on_garbage(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let mut with_version = BINARY_VERSION.to_le_bytes().to_vec();
            with_version.extend_from_slice(&bytes);
            let _ = Index::read(&mut Cursor::new(bytes));
            let _ = Index::read(&mut Cursor::new(with_version));
        }

        #[test]
        fn mutated_files_never_panic(position in 0usize..80, value in any::<u8>()) {
            let mut bytes = sample();
            if let Some(b) = bytes.get_mut(position) {
                *b = value;
            }
            let _ = Index::read(&mut Cursor::new(bytes));
        }
    }
}
