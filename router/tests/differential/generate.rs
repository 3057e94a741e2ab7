//! Random operations over an API schema, for the differential suite: queries and mutations,
//! root fields with
//! aliases, arguments, nested selections, inline and named fragments on abstract types,
//! `__typename`, and `@skip`/`@include` bound to variables. Each one is validated against the
//! schema; the few the generator gets wrong (field merging conflicts) are dropped.

use apollo_compiler::schema::{ExtendedType, FieldDefinition, Type};
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Schema};
use serde_json::{Map, Value};

/// xorshift64*: deterministic, so a failing case is reproduced by its seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

pub struct Generated {
    pub query: String,
    pub variables: Value,
}

struct Builder<'a> {
    schema: &'a Schema,
    rng: Rng,
    conditions: Vec<(String, bool)>,
    fragments: Vec<String>,
}

/// `count` valid operations (fewer if the schema offers little), from `seed`.
pub fn operations(schema: &Valid<Schema>, seed: u64, count: usize) -> Vec<Generated> {
    let mut out = Vec::new();
    let mut attempt = 0u64;
    while out.len() < count && attempt < count as u64 * 5 {
        attempt += 1;
        let mut builder = Builder {
            schema,
            rng: Rng::new(seed.wrapping_add(attempt)),
            conditions: Vec::new(),
            fragments: Vec::new(),
        };
        let Some(generated) = builder.operation() else {
            continue;
        };
        if ExecutableDocument::parse_and_validate(schema, &generated.query, "generated.graphql")
            .is_ok()
        {
            out.push(generated);
        }
    }
    out
}

impl Builder<'_> {
    fn operation(&mut self) -> Option<Generated> {
        // Now and then a mutation (root fields run in order; the fixtures' data is
        // stateless, so both routers see the same answers).
        let (keyword, root) = match &self.schema.schema_definition.mutation {
            Some(mutation) if self.rng.chance(15) => ("mutation", mutation.name.clone()),
            _ => (
                "query",
                self.schema.schema_definition.query.as_ref()?.name.clone(),
            ),
        };
        let selection = self.selection(root.as_str(), 0)?;
        let mut variables = Map::new();
        let declared: Vec<String> = self
            .conditions
            .iter()
            .map(|(name, value)| {
                variables.insert(name.clone(), Value::Bool(*value));
                format!("${name}: Boolean!")
            })
            .collect();
        let declared = if declared.is_empty() {
            String::new()
        } else {
            format!("({})", declared.join(", "))
        };
        let mut query = format!("{keyword} Generated{declared} {selection}");
        for fragment in &self.fragments {
            query.push('\n');
            query.push_str(fragment);
        }
        Some(Generated {
            query,
            variables: Value::Object(variables),
        })
    }

    /// A selection set on `type_name`; `None` when nothing can be selected.
    fn selection(&mut self, type_name: &str, depth: usize) -> Option<String> {
        let ty = self.schema.types.get(type_name)?;
        let mut items = Vec::new();
        match ty {
            ExtendedType::Object(o) => {
                let fields: Vec<&FieldDefinition> = o.fields.values().map(|f| &***f).collect();
                self.fields(&fields, depth, &mut items);
            }
            ExtendedType::Interface(i) => {
                let fields: Vec<&FieldDefinition> = i.fields.values().map(|f| &***f).collect();
                self.fields(&fields, depth, &mut items);
                self.type_conditions(type_name, depth, &mut items);
            }
            ExtendedType::Union(_) => {
                items.push("__typename".to_owned());
                self.type_conditions(type_name, depth, &mut items);
            }
            _ => return None,
        }
        if items.is_empty() {
            return None;
        }
        if self.rng.chance(15) {
            items.push("__typename".to_owned());
        }
        Some(format!("{{ {} }}", items.join(" ")))
    }

    fn fields(&mut self, fields: &[&FieldDefinition], depth: usize, items: &mut Vec<String>) {
        let fields: Vec<&&FieldDefinition> = fields
            .iter()
            .filter(|f| !f.name.starts_with("__"))
            .collect();
        if fields.is_empty() {
            return;
        }
        let wanted = 1 + self.rng.below(if depth == 0 { 2 } else { 4 });
        for index in 0..wanted {
            let field = fields[self.rng.below(fields.len())];
            if let Some(item) = self.field(field, depth, index) {
                items.push(item);
            }
        }
    }

    fn field(&mut self, field: &FieldDefinition, depth: usize, index: usize) -> Option<String> {
        let named = field.ty.inner_named_type();
        let leaf = self.schema.types.get(named).is_none_or(|t| t.is_leaf());
        let sub = if leaf {
            String::new()
        } else if depth >= 4 {
            return None;
        } else {
            format!(" {}", self.selection(named, depth + 1)?)
        };
        let alias = if self.rng.chance(15) {
            format!("a{depth}_{index}: ")
        } else {
            String::new()
        };
        let args = self.arguments(field)?;
        let condition = self.condition();
        Some(format!("{alias}{}{args}{condition}{sub}", field.name))
    }

    fn arguments(&mut self, field: &FieldDefinition) -> Option<String> {
        let mut args = Vec::new();
        for arg in &field.arguments {
            if arg.ty.is_non_null() && arg.default_value.is_none() || self.rng.chance(30) {
                args.push(format!("{}: {}", arg.name, self.literal(&arg.ty, 0)?));
            }
        }
        Some(if args.is_empty() {
            String::new()
        } else {
            format!("({})", args.join(", "))
        })
    }

    fn literal(&mut self, ty: &Type, depth: usize) -> Option<String> {
        if depth > 3 {
            return None;
        }
        if let Type::List(inner) | Type::NonNullList(inner) = ty {
            return Some(format!("[{}]", self.literal(inner, depth + 1)?));
        }
        let named = ty.inner_named_type();
        Some(match named.as_str() {
            "Int" => self.rng.below(5).to_string(),
            "Float" => format!("{}.5", self.rng.below(5)),
            "Boolean" => self.rng.chance(50).to_string(),
            "String" | "ID" => format!("\"v{}\"", self.rng.below(4)),
            _ => match self.schema.types.get(named)? {
                ExtendedType::Enum(e) => {
                    let values: Vec<_> = e.values.keys().collect();
                    values[self.rng.below(values.len())].to_string()
                }
                ExtendedType::InputObject(input) => {
                    let mut fields = Vec::new();
                    for f in input.fields.values() {
                        if f.ty.is_non_null() && f.default_value.is_none() || self.rng.chance(30) {
                            fields.push(format!("{}: {}", f.name, self.literal(&f.ty, depth + 1)?));
                        }
                    }
                    format!("{{{}}}", fields.join(", "))
                }
                _ => format!("\"v{}\"", self.rng.below(4)),
            },
        })
    }

    /// `@skip`/`@include` on a new variable, now and then.
    fn condition(&mut self) -> String {
        if !self.rng.chance(10) {
            return String::new();
        }
        let name = format!("c{}", self.conditions.len());
        let value = self.rng.chance(50);
        self.conditions.push((name.clone(), value));
        let directive = if self.rng.chance(50) {
            "skip"
        } else {
            "include"
        };
        format!(" @{directive}(if: ${name})")
    }

    /// Inline (or, now and then, named) fragments on some possible types of `abstract_type`.
    fn type_conditions(&mut self, abstract_type: &str, depth: usize, items: &mut Vec<String>) {
        let mut possible: Vec<String> = self
            .schema
            .types
            .iter()
            .filter(|(name, t)| t.is_object() && self.schema.is_subtype(abstract_type, name))
            .map(|(name, _)| name.to_string())
            .collect();
        possible.sort();
        for ty in possible {
            if !self.rng.chance(60) {
                continue;
            }
            let Some(selection) = self.selection(&ty, depth) else {
                continue;
            };
            if self.rng.chance(25) {
                let name = format!("F{}", self.fragments.len());
                self.fragments
                    .push(format!("fragment {name} on {ty} {selection}"));
                items.push(format!("...{name}"));
            } else {
                items.push(format!("... on {ty} {selection}"));
            }
        }
    }
}
