//! BFD authentication (RFC 5880 §6.7). OWNED BY THE bfd-wire HELPER: replace this skeleton.
