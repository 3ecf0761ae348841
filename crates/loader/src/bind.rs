//! Symbol binding: for each symbol an object references through its dynamic relocations or
//! imports, the object of the program that really provides it.

use std::collections::HashMap;

use dockergate_elf::{Bind, DynSymbol, ElfObject, RelocKind, SymKind};

use crate::LoadedProgram;

/// A dynamic symbol of one object of a program: `objects[object].elf.dynsym[symbol]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SymbolRef {
    pub object: usize,
    pub symbol: usize,
}

/// How one reference was resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binding {
    Bound(SymbolRef),
    /// A weak reference nothing defines: it stays null.
    WeakUndefined,
    /// A strong reference nothing defines: ld.so would fail (or fail at first call, when lazy).
    Undefined,
}

/// The bindings of a whole program.
#[derive(Clone, Debug, Default)]
pub struct Bindings {
    /// Per object: symbol index → binding, for every referenced symbol.
    per_object: Vec<HashMap<usize, Binding>>,
}

impl Bindings {
    /// How symbol `symbol` of object `object` is bound, when it is referenced at all.
    pub fn get(&self, object: usize, symbol: usize) -> Option<Binding> {
        self.per_object.get(object)?.get(&symbol).copied()
    }

    /// Every referenced symbol of an object with its binding, sorted by symbol index.
    pub fn of_object(&self, object: usize) -> Vec<(usize, Binding)> {
        let mut v: Vec<(usize, Binding)> = self
            .per_object
            .get(object)
            .map(|m| m.iter().map(|(k, v)| (*k, *v)).collect())
            .unwrap_or_default();
        v.sort_by_key(|(k, _)| *k);
        v
    }

    /// Strong references that nothing defines: `(object, symbol)`.
    pub fn undefined(&self) -> Vec<SymbolRef> {
        let mut v: Vec<SymbolRef> = self
            .per_object
            .iter()
            .enumerate()
            .flat_map(|(o, m)| {
                m.iter()
                    .filter(|(_, b)| **b == Binding::Undefined)
                    .map(move |(s, _)| SymbolRef {
                        object: o,
                        symbol: *s,
                    })
            })
            .collect();
        v.sort();
        v
    }
}

/// Defined, exported symbols of one object by name.
fn export_index(elf: &ElfObject) -> HashMap<&str, Vec<usize>> {
    let mut m: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, s) in elf.exports() {
        m.entry(s.name.as_str()).or_default().push(i);
    }
    m
}

/// Does definition `def` (of an object with or without version tables) satisfy reference `r`?
fn version_matches(def: &DynSymbol, def_has_versions: bool, r: &DynSymbol) -> bool {
    match &r.version {
        Some(v) => {
            if !def_has_versions {
                return true;
            }
            match &def.version {
                Some(dv) => dv == v,
                // An unversioned global definition satisfies a versioned reference.
                None => !def.hidden,
            }
        }
        // An unversioned reference binds to the base or default (non-hidden) version.
        None => !def.hidden || def.version.is_none(),
    }
}

/// Resolves every referenced symbol of every object of `prog`, in the order ld.so would.
pub fn bind_symbols(prog: &LoadedProgram) -> Bindings {
    let indexes: Vec<HashMap<&str, Vec<usize>>> =
        prog.objects.iter().map(|o| export_index(&o.elf)).collect();
    let has_versions: Vec<bool> = prog
        .objects
        .iter()
        .map(|o| o.elf.dynsym.iter().any(|s| s.version.is_some()))
        .collect();
    let mut per_object = Vec::with_capacity(prog.objects.len());
    for (oi, o) in prog.objects.iter().enumerate() {
        let elf = &o.elf;
        let mut wanted: Vec<usize> = elf.imports().map(|(i, _)| i).collect();
        for r in &elf.relocs {
            if r.sym != 0
                && matches!(
                    r.kind,
                    RelocKind::JumpSlot | RelocKind::GlobDat | RelocKind::Absolute
                )
            {
                wanted.push(r.sym as usize);
            }
        }
        wanted.sort_unstable();
        wanted.dedup();
        let mut map = HashMap::with_capacity(wanted.len());
        for si in wanted {
            let Some(r) = elf.dynsym.get(si) else {
                continue;
            };
            if r.name.is_empty() || r.kind == SymKind::Tls && !r.defined {
                // TLS references resolve through the TLS machinery; they carry no code.
            }
            if r.name.is_empty() {
                continue;
            }
            let scope = elf
                .symbolic
                .then_some(oi)
                .into_iter()
                .chain(0..prog.objects.len());
            let mut found = None;
            for di in scope {
                let Some(cands) = indexes[di].get(r.name.as_str()) else {
                    continue;
                };
                let d_elf = &prog.objects[di].elf;
                if let Some(&ds) = cands
                    .iter()
                    .find(|&&ds| version_matches(&d_elf.dynsym[ds], has_versions[di], r))
                {
                    found = Some(SymbolRef {
                        object: di,
                        symbol: ds,
                    });
                    break;
                }
            }
            let b = match found {
                Some(s) => Binding::Bound(s),
                None if r.bind == Bind::Weak || r.defined => Binding::WeakUndefined,
                None => Binding::Undefined,
            };
            map.insert(si, b);
        }
        per_object.push(map);
    }
    Bindings { per_object }
}
