"""The Django side of streamed workbooks that lives outside the public modules."""
