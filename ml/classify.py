"""Ticket classifiers: specialist group (routing) and priority.

The production pipeline (what ``precedent train`` and ``precedent evaluate classify`` fit) is chosen on the
training data by :class:`ml.selection.SelectedTicketClassifier` among a plain word+char SVM and
:class:`StackedTicketClassifier`:

    word 1-2-gram TF-IDF (+ one-hot signals) -> LinearSVC (balanced), logistic SGD, ridge
    word 1-2-gram TF-IDF                     -> complement naive Bayes
    out-of-fold decision scores of the four  -> multinomial logistic regression (the probabilities)
    signals: channel, client tier, node kind/criticality, alert severity

:class:`CalibratedLinearClassifier` (one SVM on word+char TF-IDF, temperature + per-class bias fitted
on out-of-fold scores) is the lighter alternative (``build_pipeline(kind="linear")``).

Both are scikit-learn estimators (parameters only in ``__init__``, all learning in ``fit``, fitted
attributes end in ``_``) so they clone, grid-search and serialise like any other.  Their probabilities
are fitted on out-of-fold scores, so the confidence threshold of the human triage queue can be read
off a precision/coverage curve (see :func:`precision_coverage_curve` and docs/triage.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import KFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder
from sklearn.svm import LinearSVC
from sklearn.utils.multiclass import unique_labels
from sklearn.utils.validation import check_is_fitted

TEXT_COLUMN = "text"
#: Structured signals the store knows about a ticket; missing values are the string "none".
META_COLUMNS = ("channel", "tier", "node_kind", "node_criticality", "alert_severity")
MISSING = "none"


def _softmax(scores: np.ndarray) -> np.ndarray:
    shifted = scores - scores.max(axis=1, keepdims=True)
    np.exp(shifted, out=shifted)
    shifted /= shifted.sum(axis=1, keepdims=True)
    return shifted


def _as_matrix(scores: np.ndarray) -> np.ndarray:
    """Decision scores as (n, n_classes); a binary classifier's 1-D score becomes [0, s]."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim == 1:
        return np.column_stack([np.zeros_like(scores), scores])
    return scores


class CalibratedLinearClassifier(ClassifierMixin, BaseEstimator):
    """A linear classifier whose softmax(scores / T + b) probabilities are calibrated.

    ``T`` (temperature) and ``b`` (per-class bias) are fitted by minimising the log loss of
    out-of-fold decision scores (``cv`` folds), then the base estimator is refitted on all data.
    Unlike ``CalibratedClassifierCV`` this works with classes that have a single example:
    a fold model that never saw a class gives it the lowest score in that fold.
    """

    def __init__(self, base_estimator=None, cv: int = 3, bias_l2: float = 1.0, random_state: int = 0):
        self.base_estimator = base_estimator
        self.cv = cv
        self.bias_l2 = bias_l2
        self.random_state = random_state

    def _base(self):
        if self.base_estimator is not None:
            return clone(self.base_estimator)
        return LinearSVC(C=0.3, random_state=self.random_state)

    def _fit_base(self, X, y, sample_weight):
        model = self._base()
        if sample_weight is None:
            return model.fit(X, y)
        return model.fit(X, y, sample_weight=sample_weight)

    def _scores(self, model, X) -> np.ndarray:
        """Scores of ``model`` laid out on this estimator's classes (unseen classes lowest)."""
        raw = _as_matrix(model.decision_function(X))
        if len(model.classes_) == len(self.classes_) and np.array_equal(model.classes_, self.classes_):
            return raw
        out = np.full((raw.shape[0], len(self.classes_)), raw.min() - 1.0)
        columns = np.searchsorted(self.classes_, model.classes_)
        out[:, columns] = raw
        return out

    def fit(self, X, y, sample_weight=None):
        """Fit the calibration on out-of-fold scores, then the base estimator on everything."""
        y = np.asarray(y)
        self.classes_ = unique_labels(y)
        if len(self.classes_) < 2:
            raise ValueError(f"need at least two classes to learn from, got {len(self.classes_)}")
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight, dtype=np.float64)
        n = len(y)
        oof = np.zeros((n, len(self.classes_)))
        covered = np.zeros(n, dtype=bool)
        if self.cv and self.cv >= 2 and n >= 2 * self.cv:
            folds = KFold(n_splits=self.cv, shuffle=True, random_state=self.random_state)
            for train_idx, test_idx in folds.split(np.zeros(n)):
                if len(np.unique(y[train_idx])) < 2:
                    continue
                weights = None if sample_weight is None else sample_weight[train_idx]
                model = self._fit_base(_rows(X, train_idx), y[train_idx], weights)
                oof[test_idx] = self._scores(model, _rows(X, test_idx))
                covered[test_idx] = True
        self.estimator_ = self._fit_base(X, y, sample_weight)
        if covered.sum() >= 2:
            codes = np.searchsorted(self.classes_, y[covered])
            weights = None if sample_weight is None else sample_weight[covered]
            self.temperature_, self.bias_ = _fit_temperature_bias(oof[covered], codes, self.bias_l2, weights)
        else:  # too little data to calibrate: plain softmax of the scores
            self.temperature_, self.bias_ = 1.0, np.zeros(len(self.classes_))
        return self

    def decision_function(self, X) -> np.ndarray:
        check_is_fitted(self, "estimator_")
        return self._scores(self.estimator_, X)

    def predict_proba(self, X) -> np.ndarray:
        """Calibrated class probabilities, columns in ``classes_`` order; rows sum to 1."""
        return _softmax(self.decision_function(X) / self.temperature_ + self.bias_)

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def _rows(X, index):
    if hasattr(X, "iloc"):
        return X.iloc[index]
    return X[index]


def _fit_temperature_bias(scores: np.ndarray, codes: np.ndarray, bias_l2: float,
                          weights: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """(T, b) minimising the (weighted) mean log loss of softmax(scores / T + b) plus an L2 penalty on b."""
    from scipy.optimize import minimize

    n, k = scores.shape
    rows = np.arange(n)
    penalty = bias_l2 / n
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    w = w / w.mean()

    def loss(params):
        log_t, bias = params[0], params[1:]
        inv_t = np.exp(-log_t)
        z = scores * inv_t + bias
        z_max = z.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(z - z_max).sum(axis=1)) + z_max[:, 0]
        value = np.mean(w * (log_norm - z[rows, codes])) + penalty * np.dot(bias, bias)
        p = np.exp(z - log_norm[:, None])
        p[rows, codes] -= 1.0
        p *= w[:, None]
        grad_bias = p.mean(axis=0) + 2 * penalty * bias
        grad_log_t = -np.mean(np.sum(p * scores, axis=1)) * inv_t
        return value, np.concatenate([[grad_log_t], grad_bias])

    start = np.zeros(k + 1)
    result = minimize(loss, start, jac=True, method="L-BFGS-B")
    params = result.x if np.all(np.isfinite(result.x)) else start
    return float(np.exp(params[0])), params[1:].astype(np.float64)


def drop_signals(X, meta_columns: Sequence[str], share: float, random_state: int):
    """A copy of X whose structured signals read "none" on a random ``share`` of rows (seeded).

    Requests often arrive without them (an e-mail names no node, an API call no client): a model that
    always saw a node kind in training leans on it, and with none it guesses from a missing feature.
    Rows without signals teach it to read the text alone."""
    if not meta_columns or not share:
        return X
    rows = np.random.default_rng(random_state).random(len(X)) < share
    X = X.copy()
    X.loc[rows, list(meta_columns)] = MISSING
    return X


def text_vectorizer(kind: str, texts) -> tuple:
    """(fitted vectorizer, TF-IDF matrix of ``texts``): word 1-2-grams or char_wb 2-5-grams, sublinear tf.

    The same settings serve the stack and the plain baseline of ml.selection, which share one fit."""
    if kind == "word":
        vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, max_df=0.9)
    else:
        vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2, max_df=0.9)
    return vectorizer, vectorizer.fit_transform(texts)


#: Base models of :class:`StackedTicketClassifier`: name -> (text view, learner).
STACK_BASES = {
    "word_svm": ("word", "svm"),
    "word_nb": ("word", "nb"),
    "word_sgd_log": ("word", "sgd_log"),
    "word_ridge": ("word", "ridge"),
    "char_svm": ("char", "svm"),
    "wordchar_svm": ("wordchar", "svm"),
}
#: The production blend (kb.config ``triage_stack_bases``).  On the real benchmark it fits within budget
#: and is as accurate as the variant with character n-grams in the SVM ("wordchar_svm", for Russian
#: inflections such as "принтер/принтера/печати"), which costs 1.6x the fit time (docs/benchmarks.md).
DEFAULT_STACK = ("word_svm", "word_nb", "word_sgd_log", "word_ridge")


class StackedTicketClassifier(ClassifierMixin, BaseEstimator):
    """Stacked text classifier: several linear learners on TF-IDF n-grams (``bases``, default: linear
    SVM, complement naive Bayes, logistic SGD and ridge on word 1-2-grams), combined by a multinomial
    logistic regression fitted on their out-of-fold scores.

    Input is a DataFrame with a ``text`` column and the ``meta_columns`` (see :func:`ticket_frame`);
    the one-hot signals are appended to the views of all learners but naive Bayes.  The logistic regression learns the blend on
    scores the bases produced for rows they did not see, so its probabilities are calibrated in the
    same out-of-fold way as :class:`CalibratedLinearClassifier`.  Classes with a single example work:
    a fold model that never saw a class scores it lowest.  Rare classes: the blend's logits are corrected
    by ``prior_correction_ * log(class share)``, chosen out-of-fold (see ``_choose_prior_correction``).
    Missing signals: a ``signal_dropout`` share of training rows has its signals set to "none".
    """

    def __init__(self, meta_columns: Sequence[str] = (), bases: Sequence[str] = DEFAULT_STACK,
                 cv: int = 3, word_C: float = 0.5, char_C: float = 0.3, nb_alpha: float = 0.3,
                 final_C: float = 1.0, class_weight: str | None = "balanced", blend: str = "auto",
                 prior_grid: Sequence[float] = (0.125, 0.25, 0.375, 0.5), prior_max_accuracy_loss: float = 0.01,
                 prior_min_gain: float = 0.02, signal_dropout: float = 0.3, random_state: int = 0):
        self.meta_columns = meta_columns
        self.bases = bases
        self.cv = cv
        self.word_C = word_C
        self.char_C = char_C
        self.nb_alpha = nb_alpha
        self.final_C = final_C
        self.class_weight = class_weight
        self.blend = blend
        self.prior_grid = prior_grid
        self.prior_max_accuracy_loss = prior_max_accuracy_loss
        self.prior_min_gain = prior_min_gain
        self.signal_dropout = signal_dropout
        self.random_state = random_state

    # --- views and learners ---
    def _learner(self, name: str):
        from sklearn.linear_model import RidgeClassifier, SGDClassifier
        from sklearn.naive_bayes import ComplementNB

        view, kind = STACK_BASES[name]
        if kind == "nb":
            return ComplementNB(alpha=self.nb_alpha)
        # the SGD and ridge learners stay unweighted, as measured: the blend and the SVM handle balance
        if kind == "sgd_log":
            return SGDClassifier(loss="log_loss", alpha=5e-6, max_iter=15, tol=None, random_state=self.random_state)
        if kind == "ridge":
            return RidgeClassifier(alpha=1.0, solver="lsqr")
        C = self.word_C if view == "word" else self.char_C
        return LinearSVC(C=C, class_weight=self.class_weight, random_state=self.random_state)

    def _views(self, X) -> dict:
        """The feature matrices the bases need: word, char, wordchar (+ signals), word_plain (NB)."""
        word, char = self._text_matrices(X)
        return self._views_of(X, word, char)

    def _text_matrices(self, X) -> tuple:
        """The word TF-IDF matrix and the character one (None when no base reads characters)."""
        needed = {self._view_of(name) for name in self.bases}
        text = X[TEXT_COLUMN] if hasattr(X, "columns") else X
        word = self.word_vectorizer_.transform(text)
        char = self.char_vectorizer_.transform(text) if needed & {"char", "wordchar"} else None
        return word, char

    def _views_of(self, X, word, char) -> dict:
        from scipy.sparse import hstack

        needed = {self._view_of(name) for name in self.bases}
        meta = self._meta_matrix(X) if self.meta_vocabulary_ else None
        views = {"word_plain": word}
        for name in needed - {"word_plain"}:
            parts = {"word": [word], "char": [char], "wordchar": [word, char]}[name]
            if meta is not None:
                parts = [*parts, meta]
            views[name] = parts[0].tocsr() if len(parts) == 1 else hstack(parts).tocsr()
        return views

    def _meta_matrix(self, X):
        from scipy.sparse import csr_matrix

        rows, cols = [], []
        columns = [X[column].tolist() for column in self.meta_columns]
        for row, values in enumerate(zip(*columns, strict=True)):
            for column, value in zip(self.meta_columns, values, strict=True):
                index = self.meta_vocabulary_.get(f"{column}={value}")
                if index is not None:  # a value never seen in training contributes nothing
                    rows.append(row)
                    cols.append(index)
        return csr_matrix((np.ones(len(rows)), (rows, cols)),
                          shape=(len(X), len(self.meta_vocabulary_)))

    @staticmethod
    def _view_of(name: str) -> str:
        view, kind = STACK_BASES[name]
        return "word_plain" if kind == "nb" else view

    def _base_scores(self, model, X, classes) -> np.ndarray:
        if hasattr(model, "decision_function"):
            raw = _as_matrix(model.decision_function(X))
        else:
            raw = model.predict_joint_log_proba(X)
        if len(model.classes_) == len(classes) and np.array_equal(model.classes_, classes):
            return raw
        out = np.full((raw.shape[0], len(classes)), raw.min() - 1.0)
        out[:, np.searchsorted(classes, model.classes_)] = raw
        return out

    def _fit_learner(self, name, X, y, sample_weight):
        model = self._learner(name)
        return model.fit(X, y) if sample_weight is None else model.fit(X, y, sample_weight=sample_weight)

    def fit(self, X, y, sample_weight=None):
        """Fit the vectorizers, the bases out-of-fold and on all rows, then the blend."""
        self.fit_on_folds(X, y, sample_weight)
        return self

    def fit_on_folds(self, X, y, sample_weight=None, folds=None, text_features=None) -> dict:
        """:meth:`fit`, with the out-of-fold base scores from ``folds`` ((train, test) index pairs) if given.

        ``text_features``: (word vectorizer, char vectorizer, word matrix, char matrix) already fitted on
        ``X`` with this class's settings (the selection shares them with its baseline), else fitted here.

        Returns what the fit learned out-of-fold: ``word``/``char``, the TF-IDF matrices of ``X``
        (vocabulary fitted on all of ``X``), ``held_out``, the rows some fold held out, and ``logits``,
        the uncorrected blend logits of those rows from blends fitted on the other folds' scores
        (``ml.selection`` compares them with other candidates on the same folds)."""
        from threadpoolctl import threadpool_limits

        # one BLAS thread: the blend's small dense products with several threads on 2 busy cores cost
        # 30x more than with one (4.7 s against 0.15 s for a 10,000 x 32 logistic regression, measured)
        with threadpool_limits(limits=1):
            return self._fit_on_folds(X, y, sample_weight, folds, text_features)

    def _fit_on_folds(self, X, y, sample_weight, folds, text_features) -> dict:
        y = np.asarray(y)
        self.classes_ = unique_labels(y)
        if len(self.classes_) < 2:
            raise ValueError(f"need at least two classes to learn from, got {len(self.classes_)}")
        unknown = [b for b in self.bases if b not in STACK_BASES]
        if unknown or not self.bases:
            raise ValueError(f"unknown stack bases {unknown}; choose from {', '.join(STACK_BASES)}")
        if self.blend not in ("auto", "full", "shared"):
            raise ValueError(f"blend must be auto, full or shared, got {self.blend!r}")
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight, dtype=np.float64)
        X = self._drop_signals(X)
        word, char = self._fit_vectorizers(X, text_features)
        views = self._views_of(X, word, char)
        folds = self._folds(y) if folds is None else folds
        oof, held_out = self._out_of_fold_scores(views, y, sample_weight, folds)
        self.base_models_ = [self._fit_learner(name, views[self._view_of(name)], y, sample_weight)
                             for name in self.bases]
        if not held_out.all():
            in_sample = np.flatnonzero(~held_out)
            oof[in_sample] = np.hstack([
                self._base_scores(model, views[self._view_of(name)][in_sample], self.classes_)
                for name, model in zip(self.bases, self.base_models_, strict=True)])
        standardized = self._standardize_scores(oof)
        self.blender_ = self._fit_blender(standardized, y, sample_weight)
        self.log_prior_ = _log_prior(y, self.classes_, sample_weight)
        logits, blended = self._blend_out_of_fold(standardized, y, sample_weight, folds)
        self.prior_correction_ = self._choose_prior_correction(logits[blended], y[blended],
                                                               None if sample_weight is None else
                                                               sample_weight[blended])
        return {"word": word, "char": char, "held_out": blended, "logits": logits}

    def _fit_vectorizers(self, X, text_features=None) -> tuple:
        """The word (and, if a base needs them, char) TF-IDF vectorizers and the signals' vocabulary.

        Returns the word and char matrices of ``X`` (char None without a character base)."""
        uses_char = any(STACK_BASES[b][0] in ("char", "wordchar") for b in self.bases)
        if text_features is not None:
            self.word_vectorizer_, self.char_vectorizer_, word, char = text_features
            if not uses_char:
                self.char_vectorizer_, char = None, None
        else:
            self.word_vectorizer_, word = text_vectorizer("word", X[TEXT_COLUMN])
            self.char_vectorizer_, char = text_vectorizer("char", X[TEXT_COLUMN]) if uses_char else (None, None)
        # one-hot of the structured signals by a plain dict: OneHotEncoder's input validation cost
        # more than the whole text model per single-ticket prediction
        self.meta_vocabulary_ = {}
        for column in self.meta_columns:
            for value in sorted(set(map(str, X[column]))):
                self.meta_vocabulary_[f"{column}={value}"] = len(self.meta_vocabulary_)
        return word, char

    def _folds(self, y) -> list[tuple[np.ndarray, np.ndarray]]:
        """``cv`` stratified folds; rows of classes with fewer than ``cv`` examples are never held out.

        So every fold model knows every class and out-of-fold scores look like the final models' scores.
        No folds when there are too few rows (every score is then in-sample)."""
        values, counts = np.unique(y, return_counts=True)
        frequent = np.isin(y, values[counts >= max(self.cv or 0, 2)])
        rest, rare = np.flatnonzero(frequent), np.flatnonzero(~frequent)
        if not (self.cv and self.cv >= 2 and len(rest) >= 2 * self.cv and len(np.unique(y[rest])) >= 2):
            return []
        from sklearn.model_selection import StratifiedKFold

        splitter = StratifiedKFold(n_splits=self.cv, shuffle=True, random_state=self.random_state)
        return [(np.r_[rest[train], rare], rest[test]) for train, test in splitter.split(np.zeros(len(rest)), y[rest])]

    def _out_of_fold_scores(self, views: dict, y, sample_weight, folds) -> tuple[np.ndarray, np.ndarray]:
        """Base scores of the rows each fold model did not see, and which rows were held out.

        Rows no fold holds out get in-sample scores of the final models in ``fit``."""
        n, k = len(y), len(self.classes_)
        oof = np.zeros((n, k * len(self.bases)))
        held_out = np.zeros(n, dtype=bool)
        for train_idx, test_idx in folds:
            weights = None if sample_weight is None else sample_weight[train_idx]
            for i, name in enumerate(self.bases):
                view = views[self._view_of(name)]
                model = self._fit_learner(name, view[train_idx], y[train_idx], weights)
                oof[test_idx, i * k:(i + 1) * k] = self._base_scores(model, view[test_idx], self.classes_)
            held_out[test_idx] = True
        return oof, held_out

    def _standardize_scores(self, oof: np.ndarray) -> np.ndarray:
        """Choose the blend (``blend_``) and standardise the base scores for it (``score_mean_``/``score_scale_``)."""
        n, m, k = len(oof), len(self.bases), len(self.classes_)
        # A full multinomial blend has (m*k)*k weights; with few rows it learns quirks of small fold
        # models and extrapolates, so "auto" uses it only with 50+ rows per blend feature.
        self.blend_ = self.blend if self.blend != "auto" else ("full" if n >= 50 * m * k else "shared")
        if self.blend_ == "full":
            self.score_mean_ = oof.mean(axis=0)
            self.score_scale_ = oof.std(axis=0) + 1e-9
        else:  # one scale per base model, one weight per base model
            blocks = oof.reshape(n, m, k)
            self.score_mean_ = np.repeat(blocks.mean(axis=(0, 2)), k)
            self.score_scale_ = np.repeat(blocks.std(axis=(0, 2)) + 1e-9, k)
        return (oof - self.score_mean_) / self.score_scale_

    def _drop_signals(self, X):
        return drop_signals(X, self.meta_columns, self.signal_dropout, self.random_state)

    def _fit_blender(self, standardized, y, sample_weight):
        """The blend of standardised base scores: a logistic regression, or shared weights + class biases."""
        if self.blend_ == "full":
            from sklearn.linear_model import LogisticRegression

            return LogisticRegression(C=self.final_C, max_iter=3000).fit(standardized, y, sample_weight=sample_weight)
        m, k = len(self.bases), len(self.classes_)
        blocks = standardized.reshape(len(standardized), m, k)
        return _fit_shared_blend([blocks[:, i, :] for i in range(m)], np.searchsorted(self.classes_, y),
                                 sample_weight)

    def _blend_logits(self, blender, standardized) -> np.ndarray:
        """Uncorrected blended logits, one column per class of ``classes_``."""
        if self.blend_ == "shared":
            coef, bias = blender
            m, k = len(self.bases), len(self.classes_)
            return np.tensordot(standardized.reshape(len(standardized), m, k), coef, axes=([1], [0])) + bias
        raw = _as_matrix(blender.decision_function(standardized))
        if np.array_equal(blender.classes_, self.classes_):
            return raw
        out = np.full((raw.shape[0], len(self.classes_)), raw.min() - 10.0)  # a class this blender never saw
        out[:, np.searchsorted(self.classes_, blender.classes_)] = raw
        return out

    def _blend_out_of_fold(self, standardized, y, sample_weight, folds) -> tuple[np.ndarray, np.ndarray]:
        """Uncorrected logits of blends fitted on the other folds' rows, and which rows have them."""
        logits = np.zeros((len(y), len(self.classes_)))
        blended = np.zeros(len(y), dtype=bool)
        for train_idx, test_idx in folds:
            if len(np.unique(y[train_idx])) < 2:
                continue
            weights = None if sample_weight is None else sample_weight[train_idx]
            blender = self._fit_blender(standardized[train_idx], y[train_idx], weights)
            logits[test_idx] = self._blend_logits(blender, standardized[test_idx])
            blended[test_idx] = True
        return logits, blended

    def _choose_prior_correction(self, logits, y, sample_weight) -> float:
        """How much of the log class prior to subtract from the logits (0 = none, 1 = balanced classes).

        A blend learns the class frequencies and then rarely or never names a rare class.  The strength is
        chosen on the out-of-fold blend ``logits`` of the held-out rows ``y``: the best macro-F1 that costs at
        most ``prior_max_accuracy_loss`` of accuracy against no correction and gains at least
        ``prior_min_gain`` of macro-F1 over it."""
        from sklearn.metrics import f1_score

        if not self.prior_grid or len(np.unique(y)) < 2:
            return 0.0
        best_tau, best_f1, floor = 0.0, None, None
        for tau in sorted({0.0, *self.prior_grid}):
            predicted = self.classes_[np.argmax(logits - tau * self.log_prior_, axis=1)]
            accuracy = float(np.average(predicted == y, weights=sample_weight))
            macro_f1 = float(f1_score(y, predicted, average="macro", sample_weight=sample_weight, zero_division=0))
            if best_f1 is None:  # tau = 0: the uncorrected blend sets the bar
                best_f1, floor = macro_f1 + self.prior_min_gain, accuracy - self.prior_max_accuracy_loss
            elif accuracy >= floor and macro_f1 > best_f1:
                best_tau, best_f1 = tau, macro_f1
        return best_tau

    def _stacked(self, X) -> np.ndarray:
        check_is_fitted(self, "blend_")
        views = self._views(X)
        scores = [self._base_scores(model, views[self._view_of(name)], self.classes_)
                  for name, model in zip(self.bases, self.base_models_, strict=True)]
        return (np.hstack(scores) - self.score_mean_) / self.score_scale_

    def decision_function(self, X) -> np.ndarray:
        """Blended logits after the prior correction, columns in ``classes_`` order."""
        return self._blend_logits(self.blender_, self._stacked(X)) - self.prior_correction_ * self.log_prior_

    def predict_proba(self, X) -> np.ndarray:
        """Blended class probabilities, columns in ``classes_`` order."""
        return _softmax(self.decision_function(X))

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self.decision_function(X), axis=1)]


def _log_prior(y, classes, sample_weight=None) -> np.ndarray:
    """Log of each class's (weighted) share of the training rows."""
    weights = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    totals = np.array([weights[y == label].sum() for label in classes])
    return np.log(np.maximum(totals, 1e-12) / totals.sum())  # a class weighted to zero stays finite


#: Pipelines :func:`build_pipeline` can build; "selected" (ml.selection) is the production one.
PIPELINE_KINDS = ("selected", "stacked", "linear")


def _fit_shared_blend(scores: Sequence[np.ndarray], codes: np.ndarray, weights: np.ndarray | None = None,
                      l2: float = 1e-3) -> tuple[np.ndarray, np.ndarray]:
    """(w, b) of p = softmax(sum_m w_m * scores_m + b) minimising the (weighted) log loss.

    One weight per base model, shared by all classes, and one bias per class: the blend cannot
    learn cross-class quirks of a base model from a small training set (a full multinomial
    regression on the concatenated scores can, and then extrapolates badly).
    """
    from scipy.optimize import minimize

    stacked = np.stack(scores)  # (m, n, k)
    m, n, k = stacked.shape
    rows = np.arange(n)
    w_rows = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    w_rows = w_rows / w_rows.mean()

    def loss(params):
        coef, bias = params[:m], params[m:]
        z = np.tensordot(coef, stacked, axes=1) + bias
        z_max = z.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(z - z_max).sum(axis=1)) + z_max[:, 0]
        value = np.mean(w_rows * (log_norm - z[rows, codes])) + l2 * (coef @ coef + bias @ bias)
        p = np.exp(z - log_norm[:, None])
        p[rows, codes] -= 1.0
        p *= w_rows[:, None] / n
        grad_coef = np.einsum("mnk,nk->m", stacked, p) + 2 * l2 * coef
        grad_bias = p.sum(axis=0) + 2 * l2 * bias
        return value, np.concatenate([grad_coef, grad_bias])

    start = np.r_[np.full(m, 1.0 / m), np.zeros(k)]
    result = minimize(loss, start, jac=True, method="L-BFGS-B")
    params = result.x if np.all(np.isfinite(result.x)) else start
    return params[:m], params[m:]


def _check_bases(bases: Sequence[str]) -> None:
    unknown = [b for b in bases if b not in STACK_BASES]
    if unknown or not bases:
        raise ValueError(f"unknown stack bases {unknown}; choose from {', '.join(STACK_BASES)}")


def build_pipeline(*, meta_columns: Sequence[str] = (), cv: int = 3, kind: str = "stacked",
                   C: float = 0.3, bases: Sequence[str] = DEFAULT_STACK, n_jobs: int = 1) -> Pipeline:
    """The production text(+signals) classification pipeline, unfitted.

    Input is a DataFrame with a ``text`` column (and the ``meta_columns``), see :func:`ticket_frame`.
    ``kind="selected"`` chooses among a plain word+char SVM and the stack (``bases`` made char-aware) by
    cross-validation on the training rows (:class:`ml.selection.SelectedTicketClassifier`).
    ``kind="linear"`` is the single calibrated SVM on word+char TF-IDF (faster, ~0.3 points less
    accurate on the real benchmark, see docs/benchmarks.md).
    """
    if kind == "selected":
        from ml.selection import SelectedTicketClassifier, char_aware

        _check_bases(bases)
        return Pipeline([("classifier", SelectedTicketClassifier(meta_columns=tuple(meta_columns),
                                                                 bases=char_aware(bases), n_jobs=n_jobs))])
    if kind == "stacked":
        unknown = [b for b in bases if b not in STACK_BASES]
        if unknown or not bases:
            raise ValueError(f"unknown stack bases {unknown}; choose from {', '.join(STACK_BASES)}")
        return Pipeline([("classifier", StackedTicketClassifier(meta_columns=tuple(meta_columns), cv=cv,
                                                                bases=tuple(bases)))])
    if kind != "linear":
        raise ValueError(f"unknown pipeline kind {kind!r}; expected one of {', '.join(PIPELINE_KINDS)}")
    transformers = [
        ("word", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1, max_df=0.9), TEXT_COLUMN),
        ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2,
                                 max_df=0.9, max_features=300_000), TEXT_COLUMN),
    ]
    if meta_columns:
        transformers.append(("meta", OneHotEncoder(handle_unknown="ignore"), list(meta_columns)))
    return Pipeline([
        ("features", ColumnTransformer(transformers)),
        ("classifier", CalibratedLinearClassifier(LinearSVC(C=C, class_weight="balanced", random_state=0), cv=cv)),
    ])


@dataclass(frozen=True)
class TicketSignals:
    """What a classifier sees of a ticket (plain values, no ORM objects)."""

    subject: str
    description: str = ""
    channel: str | None = None
    tier: str | None = None
    node_kind: str | None = None
    node_criticality: str | None = None
    alert_severity: str | None = None

    @property
    def text(self) -> str:
        return f"{self.subject}\n{self.description}".strip()


def ticket_frame(tickets: Iterable[TicketSignals | Mapping]):
    """A DataFrame with ``text`` and every META column ("none" where unknown)."""
    import pandas as pd

    rows = []
    for ticket in tickets:
        if isinstance(ticket, Mapping):
            ticket = TicketSignals(**ticket)
        row = {TEXT_COLUMN: ticket.text}
        for column in META_COLUMNS:
            value = getattr(ticket, column)
            row[column] = str(value) if value not in (None, "") else MISSING
        rows.append(row)
    return pd.DataFrame(rows, columns=[TEXT_COLUMN, *META_COLUMNS])


# --- thresholds --------------------------------------------------------------------------------


def precision_coverage_curve(confidence: Sequence[float], correct: Sequence[bool]):
    """For each distinct confidence cut (high to low): (threshold, precision, coverage) arrays.

    Auto-routing every prediction whose confidence is >= threshold gives that precision on the
    routed share (coverage) of the tickets.
    """
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    if confidence.shape != correct.shape or confidence.ndim != 1:
        raise ValueError("confidence and correct must be 1-D arrays of the same length")
    if len(confidence) == 0:
        return np.array([]), np.array([]), np.array([])
    order = np.argsort(-confidence, kind="stable")
    conf_sorted, hits = confidence[order], np.cumsum(correct[order])
    # only cut between distinct confidences: a threshold cannot split ties
    last_of_tie = np.r_[conf_sorted[1:] != conf_sorted[:-1], True]
    counts = np.arange(1, len(conf_sorted) + 1)[last_of_tie]
    thresholds = conf_sorted[last_of_tie]
    precision = hits[last_of_tie] / counts
    coverage = counts / len(conf_sorted)
    return thresholds, precision, coverage


def threshold_for_precision(confidence, correct, target: float) -> float | None:
    """The lowest confidence threshold whose auto-routed share still has precision >= target.

    None when no threshold reaches the target (route everything to humans).
    """
    thresholds, precision, _ = precision_coverage_curve(confidence, correct)
    ok = np.flatnonzero(precision >= target)
    return float(thresholds[ok[-1]]) if len(ok) else None


def coverage_at_precision(confidence, correct, target: float) -> float:
    """The largest share of items that can be auto-routed with precision >= target (0 if none)."""
    _, precision, coverage = precision_coverage_curve(confidence, correct)
    ok = np.flatnonzero(precision >= target)
    return float(coverage[ok[-1]]) if len(ok) else 0.0


def per_class_thresholds(confidence, correct, predicted, target: float, *, min_support: int = 20) -> dict:
    """Thresholds per predicted class where a class has ``min_support`` predictions; else absent."""
    confidence, correct, predicted = np.asarray(confidence), np.asarray(correct), np.asarray(predicted)
    out = {}
    for label in np.unique(predicted):
        mask = predicted == label
        if mask.sum() < min_support:
            continue
        threshold = threshold_for_precision(confidence[mask], correct[mask], target)
        out[str(label)] = 1.0 if threshold is None else threshold
    return out
