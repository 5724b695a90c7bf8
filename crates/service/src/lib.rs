//! ordo's use cases (placing, reading, listing, cancelling orders; payment; permissions)
//! over the repository traits and the other ports (payment gateway, clock).
//!
//! Empty until issue #4 lands.
