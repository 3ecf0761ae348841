//! The serde shape of a type, traced through its `Deserialize` implementation: every struct
//! with its fields in order, every enum with its variants and what each holds, every primitive.
//! postcard's encoding is a function of that shape, so a fingerprint of it tells whether two
//! builds encode summaries the same way, without anyone writing the layout down by hand.
//!
//! A tracing deserializer answers every request with a value of the requested kind (sequences
//! and maps of one element, options present) and records what was requested and where. Each
//! time an enum is met it picks its next variant, so passes are repeated until every variant
//! of every enum met has been picked and a pass finds nothing new. Recursive types are cut at
//! a depth limit (an error: the caller then does without a fingerprint).

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use serde::de::{self, DeserializeSeed, Visitor};
use serde::Deserialize;

#[derive(Debug)]
pub struct ShapeError(String);

impl fmt::Display for ShapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ShapeError {}

impl de::Error for ShapeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ShapeError(msg.to_string())
    }
}

const MAX_DEPTH: usize = 64;
const MAX_PASSES: usize = 4096;

#[derive(Default)]
struct Tracer {
    seen: BTreeSet<String>,
    /// Enum name → (times met, variant count).
    enums: HashMap<&'static str, (usize, usize)>,
}

impl Tracer {
    fn record(&mut self, at: &str, what: String) {
        self.seen.insert(format!("{at}: {what}"));
    }
}

/// The shape of `T`, one line per (place, kind), sorted.
pub fn describe<T: for<'de> Deserialize<'de>>() -> Result<String, ShapeError> {
    let mut t = Tracer::default();
    for _ in 0..MAX_PASSES {
        let before = t.seen.len();
        T::deserialize(De {
            t: &mut t,
            at: "$".into(),
            depth: 0,
        })?;
        let all_variants = t.enums.values().all(|&(met, n)| met >= n);
        if all_variants && t.seen.len() == before {
            return Ok(t.seen.into_iter().collect::<Vec<_>>().join("\n"));
        }
    }
    Err(ShapeError(format!(
        "the shape is still growing after {MAX_PASSES} passes"
    )))
}

struct De<'a> {
    t: &'a mut Tracer,
    at: String,
    depth: usize,
}

impl<'a> De<'a> {
    fn child(&mut self, at: String) -> Result<De<'_>, ShapeError> {
        if self.depth >= MAX_DEPTH {
            return Err(ShapeError(format!("recursive type at {at}")));
        }
        Ok(De {
            t: self.t,
            at,
            depth: self.depth + 1,
        })
    }
}

macro_rules! primitive {
    ($($method:ident $visit:ident $value:expr;)*) => {$(
        fn $method<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ShapeError> {
            self.t.record(&self.at, stringify!($method).trim_start_matches("deserialize_").into());
            v.$visit($value)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for De<'_> {
    type Error = ShapeError;

    primitive! {
        deserialize_bool visit_bool false;
        deserialize_i8 visit_i8 0;
        deserialize_i16 visit_i16 0;
        deserialize_i32 visit_i32 0;
        deserialize_i64 visit_i64 0;
        deserialize_i128 visit_i128 0;
        deserialize_u8 visit_u8 0;
        deserialize_u16 visit_u16 0;
        deserialize_u32 visit_u32 0;
        deserialize_u64 visit_u64 0;
        deserialize_u128 visit_u128 0;
        deserialize_f32 visit_f32 0.0;
        deserialize_f64 visit_f64 0.0;
        deserialize_char visit_char 'x';
        deserialize_str visit_str "";
        deserialize_string visit_str "";
        deserialize_bytes visit_bytes &[];
        deserialize_byte_buf visit_bytes &[];
    }

    fn deserialize_unit<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ShapeError> {
        self.t.record(&self.at, "unit".into());
        v.visit_unit()
    }

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, ShapeError> {
        Err(ShapeError(format!(
            "{}: a self-describing value (deserialize_any) has no fixed shape",
            self.at
        )))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ShapeError> {
        self.deserialize_any(v)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, _: V) -> Result<V::Value, ShapeError> {
        Err(ShapeError(format!(
            "{}: an identifier outside an enum",
            self.at
        )))
    }

    fn deserialize_option<V: Visitor<'de>>(mut self, v: V) -> Result<V::Value, ShapeError> {
        self.t.record(&self.at, "option".into());
        let at = format!("{}?", self.at);
        v.visit_some(self.child(at)?)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        v: V,
    ) -> Result<V::Value, ShapeError> {
        self.t.record(&self.at, format!("unit struct {name}"));
        v.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        mut self,
        name: &'static str,
        v: V,
    ) -> Result<V::Value, ShapeError> {
        self.t.record(&self.at, format!("newtype {name}"));
        v.visit_newtype_struct(self.child(name.to_string())?)
    }

    fn deserialize_seq<V: Visitor<'de>>(mut self, v: V) -> Result<V::Value, ShapeError> {
        self.t.record(&self.at, "seq".into());
        let at = format!("{}[]", self.at);
        v.visit_seq(Seq {
            items: vec![at],
            de: self.child(String::new())?,
        })
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        mut self,
        len: usize,
        v: V,
    ) -> Result<V::Value, ShapeError> {
        self.t.record(&self.at, format!("tuple {len}"));
        let items = (0..len).map(|i| format!("{}.{i}", self.at)).collect();
        v.visit_seq(Seq {
            items,
            de: self.child(String::new())?,
        })
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        mut self,
        name: &'static str,
        len: usize,
        v: V,
    ) -> Result<V::Value, ShapeError> {
        self.t
            .record(&self.at, format!("tuple struct {name} {len}"));
        let items = (0..len).map(|i| format!("{name}.{i}")).collect();
        v.visit_seq(Seq {
            items,
            de: self.child(String::new())?,
        })
    }

    fn deserialize_map<V: Visitor<'de>>(mut self, v: V) -> Result<V::Value, ShapeError> {
        self.t.record(&self.at, "map".into());
        let at = self.at.clone();
        v.visit_map(Map {
            at,
            left: 1,
            de: self.child(String::new())?,
        })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        mut self,
        name: &'static str,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, ShapeError> {
        self.t
            .record(&self.at, format!("struct {name} {{{}}}", fields.join(", ")));
        let items = fields.iter().map(|f| format!("{name}.{f}")).collect();
        v.visit_seq(Seq {
            items,
            de: self.child(String::new())?,
        })
    }

    fn deserialize_enum<V: Visitor<'de>>(
        mut self,
        name: &'static str,
        variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, ShapeError> {
        if variants.is_empty() {
            return Err(ShapeError(format!(
                "{}: enum {name} has no variant",
                self.at
            )));
        }
        self.t
            .record(&self.at, format!("enum {name} [{}]", variants.join(", ")));
        let e = self.t.enums.entry(name).or_insert((0, variants.len()));
        let index = e.0 % variants.len();
        e.0 += 1;
        let at = format!("{name}::{}", variants[index]);
        v.visit_enum(Enum {
            index: index as u32,
            at: at.clone(),
            de: self.child(at)?,
        })
    }
}

/// A sequence whose elements sit at the given places.
struct Seq<'a> {
    items: Vec<String>,
    de: De<'a>,
}

impl<'de> de::SeqAccess<'de> for Seq<'_> {
    type Error = ShapeError;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, ShapeError> {
        if self.items.is_empty() {
            return Ok(None);
        }
        let at = self.items.remove(0);
        let depth = self.de.depth;
        seed.deserialize(De {
            t: self.de.t,
            at,
            depth,
        })
        .map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct Map<'a> {
    at: String,
    left: usize,
    de: De<'a>,
}

impl<'de> de::MapAccess<'de> for Map<'_> {
    type Error = ShapeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ShapeError> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        let depth = self.de.depth;
        seed.deserialize(De {
            t: self.de.t,
            at: format!("{}{{key}}", self.at),
            depth,
        })
        .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, ShapeError> {
        let depth = self.de.depth;
        seed.deserialize(De {
            t: self.de.t,
            at: format!("{}{{value}}", self.at),
            depth,
        })
    }
}

struct Enum<'a> {
    index: u32,
    at: String,
    de: De<'a>,
}

/// Answers the variant identifier with the chosen index.
struct VariantIndex(u32);

impl<'de> de::Deserializer<'de> for VariantIndex {
    type Error = ShapeError;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ShapeError> {
        v.visit_u32(self.0)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

impl<'de, 'a> de::EnumAccess<'de> for Enum<'a> {
    type Error = ShapeError;
    type Variant = Enum<'a>;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Self::Variant), ShapeError> {
        let v = seed.deserialize(VariantIndex(self.index))?;
        Ok((v, self))
    }
}

impl<'de> de::VariantAccess<'de> for Enum<'_> {
    type Error = ShapeError;

    fn unit_variant(self) -> Result<(), ShapeError> {
        self.de.t.record(&self.at, "unit".into());
        Ok(())
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<S::Value, ShapeError> {
        self.de.t.record(&self.at, "newtype".into());
        seed.deserialize(self.de)
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, v: V) -> Result<V::Value, ShapeError> {
        self.de.t.record(&self.at, format!("tuple {len}"));
        let items = (0..len).map(|i| format!("{}.{i}", self.at)).collect();
        v.visit_seq(Seq { items, de: self.de })
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, ShapeError> {
        self.de
            .t
            .record(&self.at, format!("struct {{{}}}", fields.join(", ")));
        let items = fields.iter().map(|f| format!("{}.{f}", self.at)).collect();
        v.visit_seq(Seq { items, de: self.de })
    }
}

#[cfg(test)]
mod tests {
    use super::describe;
    use serde::Deserialize;

    #[allow(dead_code)]
    #[derive(Deserialize)]
    enum Inner {
        A,
        B(u8),
        C { x: i32 },
    }

    #[allow(dead_code)]
    #[derive(Deserialize)]
    enum Outer {
        P,
        Q(Vec<Inner>),
    }

    #[allow(dead_code)]
    #[derive(Deserialize)]
    struct Top {
        a: Vec<Outer>,
        b: Option<(u64, String)>,
    }

    #[allow(dead_code)]
    #[derive(Deserialize)]
    struct Top2 {
        a: Vec<Outer>,
        b: Option<(u32, String)>,
    }

    #[allow(dead_code)]
    #[derive(Deserialize)]
    struct Rec {
        next: Option<Box<Rec>>,
    }

    #[test]
    fn nested_enums_are_explored() {
        let d = describe::<Top>().unwrap();
        for want in [
            "Inner::A: unit",
            "Inner::B: newtype",
            "Inner::B: u8",
            "Inner::C: struct {x}",
            "Inner::C.x: i32",
            "Outer::P: unit",
            "Top.b?.0: u64",
        ] {
            assert!(d.lines().any(|l| l == want), "{want} missing from\n{d}");
        }
        assert_eq!(d, describe::<Top>().unwrap());
        assert_ne!(d, describe::<Top2>().unwrap());
    }

    #[test]
    fn recursion_is_an_error() {
        assert!(describe::<Rec>().is_err());
    }
}
