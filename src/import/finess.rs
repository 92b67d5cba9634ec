//! FINESS (helper writes this)
