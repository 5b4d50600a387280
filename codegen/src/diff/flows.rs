//! Which way each named type's values travel, found by walking the IR's reference graph from
//! the operations of both APIs: what the client sends (parameters, bodies) and what it receives
//! (answers, page items).

use std::collections::{BTreeMap, BTreeSet};

use super::Usage;
use crate::ir::{Api, Presence, TypeKind};

/// Which way values travel: into the server, out of it, or both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Flow {
    pub(super) request: bool,
    pub(super) response: bool,
}

impl Flow {
    const REQUEST: Flow = Flow {
        request: true,
        response: false,
    };
    const RESPONSE: Flow = Flow {
        request: false,
        response: true,
    };

    pub(super) fn usage(self) -> Usage {
        match (self.request, self.response) {
            (true, true) => Usage::Both,
            (true, false) => Usage::Request,
            (false, true) => Usage::Response,
            (false, false) => Usage::Unused,
        }
    }

    /// Narrows a flow for a field: drf-spectacular marks response-only fields `readOnly` and
    /// request-only ones `writeOnly` inside types used both ways.
    pub(super) fn for_field(self, presence: Presence) -> Flow {
        Flow {
            request: self.request && !presence.read_only,
            response: self.response && !presence.write_only,
        }
    }
}

/// The flow of every named type, in either API.
pub(super) struct Flows {
    by_name: BTreeMap<String, Flow>,
}

impl Flows {
    pub(super) fn new(old: &Api, new: &Api) -> Flows {
        let mut by_name: BTreeMap<String, Flow> = BTreeMap::new();
        for api in [old, new] {
            for direction in [Flow::REQUEST, Flow::RESPONSE] {
                let mut pending: Vec<&str> = Vec::new();
                for op in &api.operations {
                    let (sent, received) = op.type_refs();
                    let roots = if direction.request { sent } else { received };
                    for ty in roots {
                        ty.names(&mut pending);
                    }
                }
                let mut seen = BTreeSet::new();
                while let Some(name) = pending.pop() {
                    if !seen.insert(name) {
                        continue;
                    }
                    let flow = by_name.entry(name.to_owned()).or_default();
                    flow.request |= direction.request;
                    flow.response |= direction.response;
                    let Some(shape) = api.own_shape(name) else {
                        continue;
                    };
                    match shape {
                        // A read-only field never travels in a request, a write-only one never
                        // in an answer: the types they hold do not travel that way through them.
                        TypeKind::Struct { fields } => {
                            for field in fields {
                                let through = direction.for_field(field.presence);
                                if through != Flow::default() {
                                    field.ty.names(&mut pending);
                                }
                            }
                        }
                        kind => {
                            for ty in kind.type_refs() {
                                ty.names(&mut pending);
                            }
                        }
                    }
                }
            }
        }
        Flows { by_name }
    }

    pub(super) fn of(&self, name: &str) -> Flow {
        self.by_name.get(name).copied().unwrap_or_default()
    }
}
