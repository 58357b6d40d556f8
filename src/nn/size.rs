//! [`Size2`], the two-dimensional sizes of kernels, strides and padding in specs.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A size in two dimensions (rows, columns), written `5` for 5×5 or `[5, 3]` in a spec.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Size2(pub usize, pub usize);

impl Size2 {
    pub(super) fn one() -> Size2 {
        Size2(1, 1)
    }

    pub(super) fn is_one(&self) -> bool {
        *self == Size2(1, 1)
    }

    pub(super) fn is_zero(&self) -> bool {
        *self == Size2(0, 0)
    }

    /// As a (rows, columns) pair.
    pub fn pair(self) -> (usize, usize) {
        (self.0, self.1)
    }
}

impl fmt::Display for Size2 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}×{}", self.0, self.1)
    }
}

impl Serialize for Size2 {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        if self.0 == self.1 { s.serialize_u64(self.0 as u64) } else { [self.0, self.1].serialize(s) }
    }
}

impl<'de> Deserialize<'de> for Size2 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Size2, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged, expecting = "a size: a number, or [rows, columns]")]
        enum Form {
            Square(usize),
            Pair([usize; 2]),
        }
        Ok(match Form::deserialize(d)? {
            Form::Square(k) => Size2(k, k),
            Form::Pair([h, w]) => Size2(h, w),
        })
    }
}
