import '@automerge/automerge';
