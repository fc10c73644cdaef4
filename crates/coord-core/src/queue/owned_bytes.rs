//! A large byte string handed to `T::deserialize` by ownership, not by copy.
//!
//! A typed `get` of a `serde_bytes::ByteBuf` (or a `String`) would otherwise read the frame
//! into a buffer and let serde copy the payload into a fresh allocation. That copy is a glibc
//! `memcpy`, and on this kind of CPU its speed depends on where the two buffers lie relative
//! to each other modulo 4 KiB: a 64 KiB copy took ~20 µs instead of ~1.3 µs at the offsets the
//! heap happened to give (measured: the same run with `rep movsb` disabled through
//! `GLIBC_TUNABLES` met the target). Here the payload is read from the pipe straight into the
//! `Vec` that becomes the value: no copy at all, whatever the offsets.
//!
//! Only the calls for which this gives exactly what postcard gives are answered directly
//! (`deserialize_byte_buf`, `deserialize_bytes`, `deserialize_string`, `deserialize_str`, and
//! newtype wrappers around them); anything else makes the caller fall back to postcard on the
//! rebuilt frame body.

use serde::de::{self, Deserializer, Visitor};

/// The payload of a frame whose body is one byte string, and what is needed to rebuild the
/// body for postcard if the type wants something else.
pub(super) struct OwnedBytes {
    payload: Option<Vec<u8>>,
    /// Set when `T` asked for something this deserializer does not answer itself.
    fallback: bool,
}

impl OwnedBytes {
    /// Decodes a `T` from a body made of the length prefix `prefix` followed by `payload`.
    pub(super) fn decode<T: de::DeserializeOwned>(
        payload: Vec<u8>,
        prefix: &[u8],
    ) -> Result<T, postcard::Error> {
        let mut d = OwnedBytes {
            payload: Some(payload),
            fallback: false,
        };
        match T::deserialize(&mut d) {
            Ok(v) => Ok(v),
            Err(_) if d.fallback => {
                let payload = d.payload.take().unwrap_or_default();
                let mut body = Vec::with_capacity(prefix.len() + payload.len());
                body.extend_from_slice(prefix);
                body.extend_from_slice(&payload);
                postcard::from_bytes(&body)
            }
            Err(e) => Err(e),
        }
    }

    fn take(&mut self) -> Vec<u8> {
        self.payload.take().unwrap_or_default()
    }
}

/// Everything not answered directly: note it, and let `decode` hand the body to postcard.
macro_rules! fall_back {
    ($($name:ident($($arg:ident: $ty:ty),*)),* $(,)?) => { $(
        fn $name<V: Visitor<'de>>(self, $($arg: $ty,)* _visitor: V) -> Result<V::Value, Self::Error> {
            $(let _ = $arg;)*
            self.fallback = true;
            Err(postcard::Error::WontImplement)
        }
    )* };
}

impl<'de> Deserializer<'de> for &mut OwnedBytes {
    type Error = postcard::Error;

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_byte_buf(self.take())
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        // postcard gives the visitor borrowed bytes, which for an owned type ends in
        // `visit_bytes`; giving the Vec lets a visitor that can take it avoid a copy.
        visitor.visit_byte_buf(self.take())
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match String::from_utf8(self.take()) {
            Ok(s) => visitor.visit_string(s),
            Err(_) => Err(postcard::Error::DeserializeBadUtf8),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.deserialize_string(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        // postcard writes a newtype as its content alone.
        visitor.visit_newtype_struct(self)
    }

    fall_back!(
        deserialize_any(),
        deserialize_bool(),
        deserialize_i8(),
        deserialize_i16(),
        deserialize_i32(),
        deserialize_i64(),
        deserialize_i128(),
        deserialize_u8(),
        deserialize_u16(),
        deserialize_u32(),
        deserialize_u64(),
        deserialize_u128(),
        deserialize_f32(),
        deserialize_f64(),
        deserialize_char(),
        deserialize_option(),
        deserialize_unit(),
        deserialize_unit_struct(name: &'static str),
        deserialize_seq(),
        deserialize_tuple(len: usize),
        deserialize_tuple_struct(name: &'static str, len: usize),
        deserialize_map(),
        deserialize_struct(name: &'static str, fields: &'static [&'static str]),
        deserialize_enum(name: &'static str, variants: &'static [&'static str]),
        deserialize_identifier(),
        deserialize_ignored_any(),
    );

    fn is_human_readable(&self) -> bool {
        false
    }
}
