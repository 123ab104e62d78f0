// dense kernel family (in progress).
