//! Tree-push streaming (single tree and SplitStream-style multi-tree). Work in progress.
