//! Client-server baseline: every peer fetches every chunk from the source. Work in progress.
