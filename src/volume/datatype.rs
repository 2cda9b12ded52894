//! NIfTI-1 voxel data types: their codes, sizes, numpy-style names, and the
//! decoding of raw bytes (either byte order) into f64.

/// A supported on-disk voxel type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    U8,
    I8,
    I16,
    U16,
    I32,
    U32,
    I64,
    U64,
    F32,
    F64,
}

impl DataType {
    /// The type for a NIfTI `datatype` code, or `None` if unsupported
    /// (complex, RGB, float128, ...).
    pub fn from_code(code: i16) -> Option<DataType> {
        Some(match code {
            2 => DataType::U8,
            4 => DataType::I16,
            8 => DataType::I32,
            16 => DataType::F32,
            64 => DataType::F64,
            256 => DataType::I8,
            512 => DataType::U16,
            768 => DataType::U32,
            1024 => DataType::I64,
            1280 => DataType::U64,
            _ => return None,
        })
    }

    /// The NIfTI `datatype` code.
    pub fn code(self) -> i16 {
        match self {
            DataType::U8 => 2,
            DataType::I16 => 4,
            DataType::I32 => 8,
            DataType::F32 => 16,
            DataType::F64 => 64,
            DataType::I8 => 256,
            DataType::U16 => 512,
            DataType::U32 => 768,
            DataType::I64 => 1024,
            DataType::U64 => 1280,
        }
    }

    /// Bytes per voxel.
    pub fn size(self) -> usize {
        match self {
            DataType::U8 | DataType::I8 => 1,
            DataType::I16 | DataType::U16 => 2,
            DataType::I32 | DataType::U32 | DataType::F32 => 4,
            DataType::I64 | DataType::U64 | DataType::F64 => 8,
        }
    }

    /// Name as numpy (and so nibabel) prints the on-disk dtype: `int16` in
    /// native little-endian order, `>i2` for big-endian multi-byte types.
    pub fn numpy_name(self, big_endian: bool) -> String {
        let (name, short) = match self {
            DataType::U8 => ("uint8", "u1"),
            DataType::I8 => ("int8", "i1"),
            DataType::I16 => ("int16", "i2"),
            DataType::U16 => ("uint16", "u2"),
            DataType::I32 => ("int32", "i4"),
            DataType::U32 => ("uint32", "u4"),
            DataType::I64 => ("int64", "i8"),
            DataType::U64 => ("uint64", "u8"),
            DataType::F32 => ("float32", "f4"),
            DataType::F64 => ("float64", "f8"),
        };
        if big_endian && self.size() > 1 {
            format!(">{short}")
        } else {
            name.to_string()
        }
    }

    /// Decodes one voxel from exactly `self.size()` bytes.
    #[inline]
    pub fn decode(self, b: &[u8], big_endian: bool) -> f64 {
        macro_rules! num {
            ($t:ty) => {{
                let arr = b.try_into().expect("chunk has the type's size");
                (if big_endian {
                    <$t>::from_be_bytes(arr)
                } else {
                    <$t>::from_le_bytes(arr)
                }) as f64
            }};
        }
        match self {
            DataType::U8 => b[0] as f64,
            DataType::I8 => b[0] as i8 as f64,
            DataType::I16 => num!(i16),
            DataType::U16 => num!(u16),
            DataType::I32 => num!(i32),
            DataType::U32 => num!(u32),
            DataType::I64 => num!(i64),
            DataType::U64 => num!(u64),
            DataType::F32 => num!(f32),
            DataType::F64 => num!(f64),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_unsupported_are_refused() {
        for code in [2, 4, 8, 16, 64, 256, 512, 768, 1024, 1280] {
            assert_eq!(DataType::from_code(code).unwrap().code(), code);
        }
        for code in [0, 1, 32, 128, 1536, 1792, 2048, 2304] {
            assert!(DataType::from_code(code).is_none(), "code {code}");
        }
    }

    #[test]
    fn decodes_both_byte_orders() {
        assert_eq!(DataType::I16.decode(&[0xff, 0xfe], false), -257.0);
        assert_eq!(DataType::I16.decode(&[0xff, 0xfe], true), -2.0);
        assert_eq!(DataType::F32.decode(&1.5f32.to_be_bytes(), true), 1.5);
        assert_eq!(
            DataType::F64.decode(&(-0.25f64).to_le_bytes(), false),
            -0.25
        );
        assert_eq!(DataType::I8.decode(&[0x80], false), -128.0);
        assert_eq!(DataType::U64.decode(&7u64.to_be_bytes(), true), 7.0);
    }

    #[test]
    fn numpy_names_match_nibabel() {
        assert_eq!(DataType::I16.numpy_name(false), "int16");
        assert_eq!(DataType::I16.numpy_name(true), ">i2");
        assert_eq!(DataType::U8.numpy_name(true), "uint8");
        assert_eq!(DataType::F32.numpy_name(true), ">f4");
    }
}
