// ensemble kernel family (in progress).
