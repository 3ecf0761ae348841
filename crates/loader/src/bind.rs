//! Symbol binding: for each symbol an object references through its dynamic relocations or
//! imports, the object of the program that really provides it.
//!
//! glibc (`elf/dl-lookup.c`, `do_lookup_x` and `check_match`): the scope is the object itself
//! first under DT_SYMBOLIC, then the global scope in order (without the executable for a copy
//! relocation). In each object, the symbols of that name are tried in table order; a definition
//! must be global, weak or unique, of default or protected visibility, have a value (or be TLS),
//! and be a function, object, TLS, IFUNC or untyped symbol. A PLT reference takes only defined
//! symbols; other references also take an executable's undefined symbol that has a value (its
//! canonical PLT entry). Versions: a versioned reference takes the definition of that version,
//! or one with no version of its own unless hidden; an unversioned reference takes a definition
//! of index 0–2 (the oldest version), else the only non-hidden versioned one. The first object
//! that gives a match wins, weak or not.
//!
//! musl (`ldso/dynlink.c`, `find_sym`): the global list in order (without the executable for a
//! copy relocation), no DT_SYMBOLIC, no version matching, hidden versions skipped.
//!
//! Not modelled: the lookups ld.so makes on its own behalf (glibc's `malloc`, `calloc`,
//! `realloc` and `free` in the program's scope, the vDSO's `__vdso_*`), `STB_GNU_UNIQUE` tables.

use std::collections::BTreeMap;

// A fast hasher: every program binds its objects' symbols by name and looks them up by index.
use foldhash::{HashMap, HashMapExt};

use dockergate_elf::{Bind, DynSymbol, ElfObject, RelocKind, SymKind};

use crate::{Flavor, LoadedProgram};

/// A dynamic symbol of one object of a program: `objects[object].elf.dynsym[symbol]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SymbolRef {
    pub object: usize,
    pub symbol: usize,
}

/// How one reference was resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binding {
    /// The definition that serves the reference. For a non-PLT reference to a function whose
    /// address a non-PIE executable takes, this can be the executable's *undefined* symbol with
    /// a value (its canonical PLT entry, which jumps to the executable's own binding).
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

/// Symbols of one object by name (every non-local named symbol, in table order).
fn name_index(elf: &ElfObject) -> NameIndex {
    let mut m: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, s) in elf.dynsym.iter().enumerate().skip(1) {
        if !s.name.is_empty() && s.visible {
            m.entry(s.name.clone()).or_default().push(i);
        }
    }
    NameIndex {
        by_name: m,
        has_versym: elf.dynsym.iter().any(|s| s.version_index != 0),
        referenced: referenced(elf),
    }
}

/// The symbols an object references: every import, and every symbol a relocation names, in
/// symbol order, each with the kind of relocation it comes through (`None`: only imported).
fn referenced(elf: &ElfObject) -> Vec<(usize, Option<Class>)> {
    let mut wanted: BTreeMap<usize, Option<Class>> = BTreeMap::new();
    for (i, _) in elf.imports() {
        wanted.entry(i).or_insert(None);
    }
    for r in &elf.relocs {
        if r.sym == 0 {
            continue;
        }
        let e = wanted.entry(r.sym as usize).or_insert(None);
        let c = e.get_or_insert(Class {
            plt: true,
            copy: false,
        });
        c.plt &= r.kind == RelocKind::JumpSlot;
        c.copy |= r.kind == RelocKind::Copy;
    }
    wanted.into_iter().collect()
}

/// What binding needs of one object, whatever program loads it: its visible definitions by
/// name, whether it has version information, and the symbols it references.
pub struct NameIndex {
    by_name: HashMap<String, Vec<usize>>,
    has_versym: bool,
    referenced: Vec<(usize, Option<Class>)>,
}

/// What binding needs of each object ([`NameIndex`]), built once and shared by every program
/// that loads the object (an image's programs share libc and most libraries).
#[derive(Default)]
pub struct BindCache {
    indexes:
        std::sync::Mutex<HashMap<usize, std::sync::Arc<(std::sync::Arc<ElfObject>, NameIndex)>>>,
}

impl BindCache {
    fn index(
        &self,
        elf: &std::sync::Arc<ElfObject>,
    ) -> std::sync::Arc<(std::sync::Arc<ElfObject>, NameIndex)> {
        let key = std::sync::Arc::as_ptr(elf) as usize;
        if let Some(i) = self.indexes.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return i;
        }
        // The entry keeps the object alive, so its address cannot be reused by another one.
        let built = std::sync::Arc::new((elf.clone(), name_index(elf)));
        if let Ok(mut m) = self.indexes.lock() {
            m.entry(key).or_insert_with(|| built.clone()).clone()
        } else {
            built
        }
    }
}

/// The kind of relocation a reference comes through (`type_class`).
#[derive(Clone, Copy, Debug, Default)]
struct Class {
    /// Only PLT (JUMP_SLOT) relocations: only defined symbols qualify.
    plt: bool,
    /// A copy relocation: the executable is skipped.
    copy: bool,
}

/// Is `d` a definition a lookup may take at all (`check_match` before versions)?
fn is_definition(d: &DynSymbol, class: Class) -> bool {
    if !d.defined && (class.plt || d.kind == SymKind::Tls) {
        return false;
    }
    if d.value == 0 && d.kind != SymKind::Tls {
        return false;
    }
    !matches!(d.kind, SymKind::Other) && matches!(d.bind, Bind::Global | Bind::Weak | Bind::Unique)
}

/// Finds the definition of `r` in object `elf` (`None`: try the next object).
fn lookup_in(
    flavor: Flavor,
    elf: &ElfObject,
    cands: &[usize],
    r: &DynSymbol,
    class: Class,
    has_versym: bool,
) -> Option<usize> {
    if flavor == Flavor::Musl {
        return cands.iter().copied().find(|&i| {
            let d = &elf.dynsym[i];
            is_definition(d, class) && !(has_versym && d.hidden)
        });
    }
    let mut versioned: Option<usize> = None;
    let mut num_versions = 0;
    for &i in cands {
        let d = &elf.dynsym[i];
        if !is_definition(d, class) {
            continue;
        }
        if !has_versym {
            return Some(i);
        }
        match &r.version {
            Some(want) => {
                // The version asked for, or (unless hidden) a definition without a version.
                if d.version.as_deref() == Some(want.as_str()) || (d.version.is_none() && !d.hidden)
                {
                    return Some(i);
                }
            }
            None => {
                if d.version_index >= 3 {
                    if !d.hidden {
                        num_versions += 1;
                        if num_versions == 1 {
                            versioned = Some(i);
                        }
                    }
                } else {
                    return Some(i);
                }
            }
        }
    }
    if num_versions == 1 {
        versioned
    } else {
        None
    }
}

/// Resolves every referenced symbol of every object of `prog`, as the loader would.
pub fn bind_symbols(prog: &LoadedProgram) -> Bindings {
    bind_symbols_cached(prog, &BindCache::default())
}

/// [`bind_symbols`] with name indexes shared across programs.
pub fn bind_symbols_cached(prog: &LoadedProgram, cache: &BindCache) -> Bindings {
    let flavor = prog.flavor;
    let indexes: Vec<std::sync::Arc<(std::sync::Arc<ElfObject>, NameIndex)>> =
        prog.objects.iter().map(|o| cache.index(&o.elf)).collect();
    let has_versym: Vec<bool> = indexes.iter().map(|i| i.1.has_versym).collect();
    let mut per_object = Vec::with_capacity(prog.objects.len());
    for (oi, o) in prog.objects.iter().enumerate() {
        let elf = &o.elf;
        let wanted = &indexes[oi].1.referenced;
        let mut map = HashMap::with_capacity(wanted.len());
        for &(si, class) in wanted {
            let Some(r) = elf.dynsym.get(si) else {
                continue;
            };
            if r.name.is_empty() {
                continue;
            }
            // A local symbol (or a section) is its own definition: no lookup.
            if matches!(r.bind, Bind::Local) || (r.kind == SymKind::Other && r.defined) {
                map.insert(
                    si,
                    Binding::Bound(SymbolRef {
                        object: oi,
                        symbol: si,
                    }),
                );
                continue;
            }
            let class = class.unwrap_or_default();
            let symbolic = elf.symbolic && flavor != Flavor::Musl;
            let scope = symbolic
                .then_some(oi)
                .into_iter()
                .chain(0..prog.objects.len())
                .filter(|&di| !(class.copy && di == 0));
            let mut found = None;
            for di in scope {
                let Some(cands) = indexes[di].1.by_name.get(r.name.as_str()) else {
                    continue;
                };
                let d_elf = &prog.objects[di].elf;
                if let Some(ds) = lookup_in(flavor, d_elf, cands, r, class, has_versym[di]) {
                    found = Some(SymbolRef {
                        object: di,
                        symbol: ds,
                    });
                    break;
                }
            }
            let b = match found {
                Some(s) => Binding::Bound(s),
                None if r.bind == Bind::Weak && !r.defined => Binding::WeakUndefined,
                None => Binding::Undefined,
            };
            map.insert(si, b);
        }
        per_object.push(map);
    }
    Bindings { per_object }
}
