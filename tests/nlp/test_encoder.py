"""The NumPy all-MiniLM-L6-v2 encoder: the same vector for a message however it is computed, and
vectors that carry meaning."""

from __future__ import annotations

import numpy as np
import pytest

from bot.nlp.encoder import ROW_BY_ROW, shared_encoder

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def encoder():
    return shared_encoder()


def test_a_short_message_row_by_row_matches_the_matrix_product(encoder):
    short = "not resolved"
    assert len(encoder.tokenizer.encode(short).ids) <= ROW_BY_ROW
    alone = encoder.encode([short])[0]  # few rows: matrix-vector products
    # In a batch padded to the long message's length, the same message goes through matrix products.
    long = "the other agency closed the case last week and I still think the family needs support"
    assert len(encoder.tokenizer.encode(long).ids) > ROW_BY_ROW
    in_batch = encoder.encode([long, short])[1]
    np.testing.assert_allclose(alone, in_batch, atol=1e-5)
    assert np.linalg.norm(alone) == pytest.approx(1.0, abs=1e-5)


def test_paraphrases_are_near_and_unrelated_messages_far(encoder):
    disagree, paraphrase, unrelated = encoder.encode(
        [
            "I disagree with the decision to close the case",
            "I don't agree with their decision to close this case",
            "book me a table for two at an Italian restaurant",
        ]
    )
    assert float(disagree @ paraphrase) > 0.8
    assert float(disagree @ unrelated) < 0.2
