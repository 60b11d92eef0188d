#pragma once
// PLACEHOLDER contract, to be completed by the storage implementation: the small interface
// through which the journal (and later the lease) touch the shared directory.
