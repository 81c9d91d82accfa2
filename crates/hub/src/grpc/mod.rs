//! The gRPC edge: the only module of the hub that names a prost type. Each service here
//! decodes the wire request into the typed request of its core module (`sync`, `query`,
//! `enroll`, `attach`, `accounts`), runs it, and encodes the typed answer; [`serve`]
//! builds the services with their limits, health and reflection. Conversions live in
//! [`convert`] (server side) and [`decode`] (a client's view of the answers).

mod accounts;
mod attach;
mod convert;
pub mod decode;
mod enroll;
mod query;
mod rows;
pub(crate) mod serve;
mod sync;

pub(crate) use convert::conflict_to_pb;
