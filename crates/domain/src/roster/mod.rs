//! The county roster (名册): the network of schools, alliances, pairings, subject
//! groups, staff and teachers; its validation; and its tabular form (sheets with
//! Chinese headers) that a county clerk fills in.

mod model;
mod part;
mod table;
mod validate;

pub use model::*;
pub use table::*;
pub use validate::*;
