"""How the index lays out its postings on disk: Whoosh's W3 format, arranged for reading in bulk.

library/ranking.py reads every posting block of the words a search looks for; this
module writes those blocks so that each unpacks in a few microseconds (see
`PostingsCodec`).  Whoosh's own reader reads them unchanged.
"""

from __future__ import annotations

import io
import pickle
import zlib
from array import array
from itertools import accumulate
from typing import Iterator

from whoosh.codec.whoosh3 import WHOOSH3_HEADER_MAGIC, W3Codec, W3PostingsWriter
from whoosh.util.numeric import length_to_byte
from whoosh.util.numlists import delta_encode


class PostingsCodec(W3Codec):
    """Whoosh's W3 codec, with blocks laid out for reading a whole posting list at once.

    A search here reads every block of the words it looks for (library/ranking.py), and W3's
    own blocks are slow to unpack: 128 postings pickled with protocol 2, compressed, each
    position list a bytes object that protocol 2 rebuilds by calling `_codecs.encode` (about
    2.5 µs a document for a common word).  These blocks hold 512 postings, uncompressed,
    pickled with protocol 4, the document numbers and weights as arrays and the position
    lists as one bytes object (`PackedValues`), so a block unpacks in a few microseconds
    and goes into numpy without a loop.  It is still the W3 format: Whoosh's own reader
    reads these blocks (it unpickles any protocol, indexes the ids, weights and values by
    posting, and reads each block's compression from the block); the files are about twice
    the size.
    """

    def __init__(self) -> None:
        super().__init__(blocklimit=512, compression=0)

    def postings_writer(self, dbfile, byteids=False):  # type: ignore[no-untyped-def]
        return _PostingsWriter(dbfile, blocklimit=self._blocklimit, byteids=byteids,
                               compression=self._compression, inlinelimit=self._inlinelimit)


class PackedValues:
    """A block's posting values (position lists) as one bytes object and the offset where each ends.

    Whoosh reads a block's values by posting number (`values[i]`), as it would a tuple.  The
    pickles name this class by its module and name: moving or renaming it changes the format,
    so bump index.SCHEMA_VERSION with it.
    """

    __slots__ = ("data", "ends")

    def __init__(self, data: bytes, ends: array) -> None:
        self.data, self.ends = data, ends

    def __len__(self) -> int:
        return len(self.ends)

    def __getitem__(self, index: int) -> bytes:
        if index < 0:
            index += len(self.ends)
        return self.data[self.ends[index - 1] if index else 0:self.ends[index]]

    def __iter__(self) -> Iterator[bytes]:
        return (self[i] for i in range(len(self.ends)))

    def __reduce__(self) -> tuple:
        return PackedValues, (self.data, self.ends)


class _PostingsWriter(W3PostingsWriter):
    def _write_block(self, last: bool = False) -> None:
        # W3PostingsWriter._write_block with the block data laid out as described above.
        if not self._blockcount:
            self._postfile.write(WHOOSH3_HEADER_MAGIC)
        self._terminfo.add_block(self)
        ids = array("I", delta_encode(self._ids)) if not self._byteids else tuple(self._ids)
        weights = self._weights
        if all(w == 1.0 for w in weights):
            weights = None
        elif all(w == weights[0] for w in weights):
            weights = weights[0]
        values = self._values
        if self._format.fixed_value_size() is None or self._format.fixed_value_size() < 0:
            values = PackedValues(b"".join(values), array("I", accumulate(map(len, values))))
        else:
            values = self._mini_values()
        databytes = _dumps((ids, weights, values))
        comp = self._compression
        if comp:
            databytes = zlib.compress(databytes, comp)
        infobytes = _dumps((len(self._ids), self._ids[-1], self._maxweight, comp, length_to_byte(self._minlength),
                            length_to_byte(self._maxlength)))
        blocklength = len(infobytes) + len(databytes)
        self._postfile.write_int(-blocklength if last else blocklength)
        self._postfile.write(infobytes)
        self._postfile.write(databytes)
        self._blockcount += 1
        self._new_block()


def _dumps(value: object) -> bytes:
    """Protocol 4, without the memo (nothing in a block repeats)."""
    out = io.BytesIO()
    pickler = pickle.Pickler(out, 4)
    pickler.fast = True
    pickler.dump(value)
    return out.getvalue()


CODEC = PostingsCodec()
