//! What governs a deployment and what it answers for: the signed deployment [`profile`]
//! (DESIGN §4: purpose, window, watchlist, threshold, custody, rate cap, notice) and the
//! hash-chained [`audit`] log (G7). Neither holds anything biometric.

pub mod audit;
pub mod profile;
